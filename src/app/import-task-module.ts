import { ConfigError } from '../errors.js'

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
    return await Promise.race([import(url), stuck])
  } finally {
    pending.delete(fail)
    if (pending.size === 0) process.off('beforeExit', failPending)
  }
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
