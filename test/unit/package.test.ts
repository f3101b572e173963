import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import * as main from '../../src/index.js'
import * as testing from '../../src/testing/index.js'
import * as nats from '../../src/nats/index.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  name: string
  type: string
  bin: Record<string, string>
  exports: Record<string, string | { types: string; import: string }>
}

t.test('package - every export points at a built file whose source exists', async (t) => {
  t.equal(pkg.name, 'celeriac')
  t.equal(pkg.type, 'module')
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue
    t.match(target.import, /^\.\/dist\/.*\.js$/, `${entry} import`)
    t.equal(target.types, target.import.replace(/\.js$/, '.d.ts'), `${entry} types`)
    const source = new URL(`../../${target.import.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')}`, import.meta.url)
    t.ok(existsSync(source), `${entry} has its source ${source.pathname}`)
  }
  t.ok(existsSync(new URL(`../../${pkg.bin.celeriac}`, import.meta.url)), 'the bin exists')
})

t.test('package - the entries export what the README documents', async (t) => {
  for (const name of ['createApp', 'Task', 'AsyncResult', 'Signature', 'signature', 'WorkerNode', 'TaskState', 'Retry', 'Reject', 'Ignore', 'TimeLimitExceeded', 'lifecycle']) {
    t.ok(name in main, `celeriac exports ${name}`)
  }
  for (const name of ['SimulatedClock', 'MemoryTransport', 'memoryBroker', 'MemoryBackend', 'memoryResultStore', 'Latch']) {
    t.ok(name in testing, `celeriac/testing exports ${name}`)
  }
  for (const name of ['NatsTransport', 'NatsKvBackend', 'RpcBackend', 'connectNats', 'parseNatsUrl', 'natsTransportDefaults']) {
    t.ok(name in nats, `celeriac/nats exports ${name}`)
  }
  t.ok(pkg.exports['./nats'], 'celeriac/nats is in the exports map')
})
