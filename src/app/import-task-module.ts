import { fileURLToPath } from 'node:url'
import { ConfigError } from '../errors.js'
import { isAppLike } from '../worker/thread/app-module.js'

/**
 * Imports a module that defines an app's tasks, on the thread that starts a worker node.
 *
 * A module that starts a worker at its own top level (`await app.worker().start()` in the
 * module that creates the app) waits for the node, and the node waits for that module to
 * finish loading, since it imports its task modules before it starts: neither can go on.
 * Node then empties its event loop and exits with code 13 and a bare "unsettled top-level
 * await" warning. `beforeExit` fires exactly then, while the import is still pending and
 * nothing else could settle it, so the import is failed with an error that says what happened
 * and how to fix it.
 */
export async function importTaskModule(url: string): Promise<unknown> {
  let fail!: () => void
  const stuck = new Promise<never>((_, reject) => {
    fail = () => reject(new ConfigError(selfImportMessage(url)))
  })
  if (pending.size === 0) process.on('beforeExit', failPending)
  pending.add(fail)
  try {
    const module = (await Promise.race([import(url), stuck])) as Record<string, unknown>
    noteIncludes(url, module)
    return module
  } catch (error) {
    throw missingInclude(url, error) ?? error
  } finally {
    pending.delete(fail)
    if (pending.size === 0) process.off('beforeExit', failPending)
  }
}

/**
 * Where each task module URL came from: the app whose `include` list names it, and the entry
 * as written there. Noted when the app's module is imported (a node imports it first), so that
 * a missing module is named as the user wrote it, not as the URL it resolved to.
 */
const includedBy = new Map<string, { app: string; entry: string; main: string }>()

/** Notes the include lists of the apps `module` (imported from `url`) creates. */
function noteIncludes(url: string, module: Record<string, unknown>): void {
  for (const value of Object.values(module)) {
    if (!isAppLike(value)) continue
    const app = value as { name: string; main?: string; conf?: { include?: readonly string[] } }
    if (app.main !== url) continue
    for (const entry of app.conf?.include ?? []) includedBy.set(new URL(entry, url).href, { app: app.name, entry, main: url })
  }
}

/** The error that names the app and its `include` entry, when `url` itself (not a module it imports) is missing. */
function missingInclude(url: string, error: unknown): ConfigError | undefined {
  const origin = includedBy.get(url)
  if (origin === undefined || (error as { code?: string })?.code !== 'ERR_MODULE_NOT_FOUND') return undefined
  const path = url.startsWith('file:') ? fileURLToPath(url) : url
  const missing = (error as { url?: string }).url === url || (error as Error).message.includes(`'${path}'`)
  if (!missing) return undefined
  const main = origin.main.startsWith('file:') ? fileURLToPath(origin.main) : origin.main
  return new ConfigError(`app ${origin.app}: its include list names ${JSON.stringify(origin.entry)}, and there is no such module: ${path} (entries resolve against the app's module, ${main})`, { cause: error })
}

// One listener for every import in progress: many nodes starting at once add no listeners.
const pending = new Set<() => void>()
function failPending(): void {
  for (const fail of pending) fail()
}

/** What a user reads when the module that defines the tasks also starts the worker. */
export function selfImportMessage(url: string): string {
  return `a worker node was started while its app module ${url} was still loading, and the node imports that module before it starts (so does each worker thread): it waits for itself. ` +
    `Start the worker from another module that imports the app (main.ts: import { app } from './app.js'; await app.worker().start()), ` +
    `or take the start out of the app module and run it with the CLI (npx celeriac worker -A app.ts)`
}
