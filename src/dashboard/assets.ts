/**
 * The page's files: the dashboard's own modules and styles (src/dashboard/static, shipped in
 * the package's `src`) and the front-end libraries served straight from their installed npm
 * packages (preact, htm, uPlot): nothing is copied into this repository and there is no build
 * step.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { extname, join, normalize, sep } from 'node:path'

/** Where the static files are: beside this file in src/, or back in src/ from dist/. */
export const STATIC_DIR = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './static/' : '../../src/dashboard/static/', import.meta.url))

/** The vendored modules by the name the page asks for, resolved in the installed packages. */
const VENDOR: Record<string, () => string> = {
  'preact.mjs': () => import.meta.resolve('preact'),
  'hooks.mjs': () => import.meta.resolve('preact/hooks'),
  'htm.mjs': () => import.meta.resolve('htm'),
  'uplot.mjs': () => import.meta.resolve('uplot/dist/uPlot.esm.js'),
  'uplot.css': () => import.meta.resolve('uplot/dist/uPlot.min.css'),
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
}

/** A file to send: its bytes and content type. */
export interface Asset {
  body: string | Uint8Array
  type: string
}

const cache = new Map<string, Promise<Asset | undefined>>()

/** A vendored library by file name; `undefined` for an unknown one. */
export function vendorAsset(name: string): Promise<Asset | undefined> {
  const resolve = Object.hasOwn(VENDOR, name) ? VENDOR[name] : undefined
  if (!resolve) return Promise.resolve(undefined)
  let asset = cache.get(`vendor:${name}`)
  if (!asset) {
    asset = readFile(fileURLToPath(resolve()), 'utf8').then((text) => ({
      // The hooks module imports the bare name "preact"; the page has no import map (CSP allows no inline script), so it is pointed at the served file.
      body: text.replace(/from\s*"preact"/g, 'from"./preact.mjs"'),
      type: TYPES[extname(name)],
    }))
    cache.set(`vendor:${name}`, asset)
  }
  return asset
}

/** One of the dashboard's own static files; `undefined` for a missing one or a path that leaves the folder. */
export async function staticAsset(path: string): Promise<Asset | undefined> {
  const file = normalize(join(STATIC_DIR, path))
  const type = TYPES[extname(file)]
  if (!file.startsWith(STATIC_DIR.endsWith(sep) ? STATIC_DIR : STATIC_DIR + sep) || type === undefined) return undefined
  try {
    return { body: type.startsWith('image/') ? await readFile(file) : await readFile(file, 'utf8'), type }
  } catch {
    return undefined
  }
}

/** The one HTML page; the client routes by hash. */
export function indexHtml(options: { prefix: string; readOnly: boolean }): string {
  const p = options.prefix
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>celeriac dashboard</title>
<link rel="stylesheet" href="${p}/static/dashboard.css"><link rel="stylesheet" href="${p}/vendor/uplot.css">
</head><body data-prefix="${p}" data-read-only="${options.readOnly}">
<div id="app"></div>
<script type="module" src="${p}/static/main.js"></script>
</body></html>`
}
