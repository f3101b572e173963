// Smoke test of the built package: the public entry and a worker node from dist/ (plain node,
// no TypeScript loader), so the exports map and the .js thread entry are checked.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const dist = pathToFileURL(join(process.cwd(), 'dist/index.js')).href
const dir = mkdtempSync(join(tmpdir(), 'celeriac-smoke-'))
const appFile = join(dir, 'app.mjs')
writeFileSync(appFile, `import { createApp } from ${JSON.stringify(dist)}
export const app = createApp({ name: 'smoke' })
export const add = app.task('smoke.add', (x, y) => x + y)
`)
const { app, add } = await import(pathToFileURL(appFile).href)
const node = app.worker({ concurrency: 1 })
await node.start()
const sum = await (await add.delay(20, 22)).get({ timeout: 10 })
await node.stop()
await app.close()
if (sum !== 42) throw new Error(`dist smoke: expected 42, got ${sum}`)
console.log('dist smoke: add(20, 22) = 42 from dist/')
// The celeriac/nats entry loads from dist/ and gives the NATS parts.
const nats = await import(pathToFileURL(join(process.cwd(), 'dist/nats/index.js')).href)
for (const name of ['NatsTransport', 'NatsKvBackend', 'RpcBackend', 'connectNats']) {
  if (typeof nats[name] !== 'function') throw new Error(`dist smoke: celeriac/nats does not export ${name}`)
}
console.log('dist smoke: celeriac/nats exports its parts from dist/')
