import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigError } from '../errors.js'
import { App } from '../app/app.js'
import { UsageError } from './cli-errors.js'

/** `.js` written for a `.ts` source (as TypeScript's own imports are), and the other way. */
const SWAP: Readonly<Record<string, string>> = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts', '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs' }

/**
 * The files `-A <spec>` may mean, in the order tried, as Node users expect: the path as given
 * (relative to the working directory), its `.ts`/`.js` twin, then with `.ts` or `.js` added,
 * then a folder's `index`.
 */
export function candidates(spec: string, cwd = process.cwd()): string[] {
  const path = resolve(cwd, spec)
  const ext = /\.[cm]?[jt]s$/.exec(path)?.[0]
  if (ext) return [path, path.slice(0, -ext.length) + SWAP[ext]]
  return [path, `${path}.ts`, `${path}.js`, `${path}/index.ts`, `${path}/index.js`]
}

/** Whether `-A` names a file rather than a package: a path, or a name with a file extension. */
function looksLikePath(spec: string): boolean {
  return /^\.{0,2}[\\/]/.test(spec) || /\.[cm]?[jt]s$/.test(spec) || /^[A-Za-z]:[\\/]/.test(spec)
}

/**
 * Imports `-A`'s module and finds the app in it as Celery's `--app` does: an export named
 * `app`, then `celery`, then the only App exported. The module is the first existing file of
 * {@link candidates}, else (for a name that is not a path) the package of that name. A module
 * found nowhere is a usage error listing what was tried; one that fails to import, a
 * ConfigError with its error.
 */
export async function loadApp(spec: string): Promise<App> {
  const tried = candidates(spec)
  const file = tried.find((path) => existsSync(path) && statSync(path).isFile())
  if (file === undefined && looksLikePath(spec)) throw new UsageError(`-A ${spec}: no such app module; tried ${tried.join(', ')}`)
  const url = file !== undefined ? pathToFileURL(file).href : spec
  if (/\.[cm]?tsx?$/.test(url)) {
    const { register } = await import('tsx/esm/api')
    register()
  }
  let module: Record<string, unknown>
  try {
    module = await import(url)
  } catch (error) {
    const missing = file === undefined && (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(`'${spec}'`)
    if (missing) throw new UsageError(`-A ${spec}: no such app module; tried ${tried.join(', ')} and the package "${spec}"`)
    throw new ConfigError(`cannot import app module ${spec}: ${(error as Error).message}`, { cause: error })
  }
  const named = [module.app, module.celery].find((value) => App.isApp(value))
  if (named) return named as App
  const apps = Object.values(module).filter((value): value is App => App.isApp(value))
  if (apps.length === 1) return apps[0]
  // The module imported: what -A points at is the mistake, not the code it ran.
  throw new UsageError(apps.length === 0 ? `module ${spec} exports no celeriac app (export one as "app")` : `module ${spec} exports ${apps.length} apps: export the one to use as "app"`)
}
