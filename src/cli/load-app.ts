import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ConfigError } from '../errors.js'
import { App } from '../app/app.js'

/**
 * Imports `-A`'s module (a `.ts` or `.js` path, or a package name) and finds the app in it as
 * Celery's `--app` does: an export named `app`, then `celery`, then the only App exported.
 */
export async function loadApp(spec: string): Promise<App> {
  const path = resolve(spec)
  const url = existsSync(path) ? pathToFileURL(path).href : spec
  if (/\.[cm]?tsx?$/.test(url)) {
    const { register } = await import('tsx/esm/api')
    register()
  }
  let module: Record<string, unknown>
  try {
    module = await import(url)
  } catch (error) {
    throw new ConfigError(`cannot import app module ${spec}: ${(error as Error).message}`, { cause: error })
  }
  const named = [module.app, module.celery].find((value) => App.isApp(value))
  if (named) return named as App
  const apps = Object.values(module).filter((value): value is App => App.isApp(value))
  if (apps.length === 1) return apps[0]
  throw new ConfigError(apps.length === 0 ? `module ${spec} exports no celeriac app (export one as "app")` : `module ${spec} exports ${apps.length} apps: export the one to use as "app"`)
}
