import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
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

/** URL schemes Node imports from; `-A file:///srv/app.ts` is a URL, `-A proj:app` is not. */
const URL_SCHEMES = /^(file|data|node|https?)$/i

/**
 * `-A`'s module and, for Celery's `module:name` (`-A proj:app`), the export named. A colon
 * that ends a Windows drive (`C:\\app.ts`) or a URL scheme Node knows (`file:`) is part of the
 * module; a `file:` URL is read as its path.
 */
export function parseAppSpec(spec: string): { module: string; name?: string } {
  const split = /^(.+):([A-Za-z_$][\w$]*)$/.exec(spec)
  const named = split !== null && !/^[A-Za-z]$/.test(split[1]) && !URL_SCHEMES.test(split[1])
  const module = named ? split[1] : spec
  let path = module
  if (/^file:/i.test(module)) {
    try {
      path = fileURLToPath(module)
    } catch (error) {
      throw new UsageError(`-A ${spec}: ${(error as Error).message}`)
    }
  }
  return { module: path, ...(named ? { name: split[2] } : {}) }
}

/**
 * Imports `-A`'s module and finds the app in it as Celery's `--app` does: the export named
 * after a colon (`-A proj:app`), else an export named `app`, then `celery`, then the only App
 * exported. The module is the first existing file of {@link candidates}, else (for a name that
 * is not a path) the package of that name. A module found nowhere, or without the app, is a
 * usage error saying what was tried; one that fails to import, a ConfigError with its error.
 */
export async function loadApp(given: string): Promise<App> {
  const { module, name } = parseAppSpec(given)
  return pickApp(await importModule(module, given), module, name)
}

/** The app in `module` (imported from `spec`): the export `name`, else as Celery's `--app` finds it. */
function pickApp(module: Record<string, unknown>, spec: string, name: string | undefined): App {
  const apps = Object.entries(module).filter(([, value]) => App.isApp(value)).map(([key]) => key)
  const theirs = apps.length === 0 ? 'it exports no celeriac app' : `its app${apps.length === 1 ? ' is' : 's are'} ${apps.map((key) => `"${key}"`).join(', ')}`
  if (name !== undefined) {
    if (!Object.hasOwn(module, name)) throw new UsageError(`-A ${spec}:${name}: module ${spec} has no export "${name}" (${theirs})`)
    if (!App.isApp(module[name])) throw new UsageError(`-A ${spec}:${name}: export "${name}" of module ${spec} is not a celeriac app (${theirs})`)
    return module[name] as App
  }
  const named = [module.app, module.celery].find((value) => App.isApp(value))
  if (named) return named as App
  if (apps.length === 1) return module[apps[0]] as App
  // The module imported: what -A points at is the mistake, not the code it ran.
  throw new UsageError(apps.length === 0 ? `module ${spec} exports no celeriac app (export one as "app")` : `module ${spec} exports ${apps.length} apps: name the one to use, e.g. -A ${spec}:${apps[0]}`)
}

/** The module `spec` names (see {@link loadApp}); `given` is -A as typed, for errors. */
async function importModule(spec: string, given: string): Promise<Record<string, unknown>> {
  const tried = candidates(spec)
  const file = tried.find((path) => existsSync(path) && statSync(path).isFile())
  if (file === undefined && looksLikePath(spec)) throw new UsageError(`-A ${given}: no such app module; tried ${tried.join(', ')}`)
  const url = file !== undefined ? pathToFileURL(file).href : spec
  if (/\.[cm]?tsx?$/.test(url)) {
    const { register } = await import('tsx/esm/api')
    register()
  }
  try {
    return await import(url)
  } catch (error) {
    const missing = file === undefined && (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(`'${spec}'`)
    if (missing) throw new UsageError(`-A ${given}: no such app module; tried ${tried.join(', ')} and the package "${spec}"`)
    // A module loaded as CommonJS where it is written as ESM, or the other way round: the
    // package.json beside it says which, and the quick start's says "type": "module".
    if (/ is not defined in ES module scope|Cannot use import statement outside a module|Unexpected token 'export'|top-level await is not supported/i.test((error as Error).message)) {
      throw new UsageError(`cannot import app module ${spec}: ${(error as Error).message}. celeriac apps are ES modules: add "type": "module" to the package.json of your project (see the README's quick start), or name the file .mts`, { cause: error })
    }
    throw new ConfigError(`cannot import app module ${spec}: ${(error as Error).message}`, { cause: error })
  }
}
