/**
 * Cluster-wide rate limits across real worker processes on a real nats-server: the limit is
 * a key in the `<prefix>-rate` KV bucket that every node moves on by compare-and-set.
 */
import t from 'tap'
import { obeysInterval } from '../helpers/spacing.js'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { lines, tempDir } from '../helpers/files.js'
import { until } from '../helpers/until.js'

type Fixture = typeof import('../fixtures/nats-app.js')
const fixture = fileURLToPath(new URL('../fixtures/nats-app.ts', import.meta.url))

let server: NatsServer
let f: Fixture
const workers: WorkerProcess[] = []

t.before(async () => {
  server = await startNatsServer()
  // The fixture reads its broker from the environment when imported, as a deployment would.
  process.env.CELERIAC_BROKER_URL = server.url
  f = await import('../fixtures/nats-app.js')
})
t.teardown(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')))
  await f?.app.close()
  await server?.cleanup()
})

async function worker(hostname: string, args: string[], env: Record<string, string> = {}): Promise<WorkerProcess> {
  const w = await startWorkerProcess({ app: fixture, hostname, args, env: { CELERIAC_BROKER_URL: server.url, ...env } })
  workers.push(w)
  return w
}

/** Start times (epoch ms, sorted, from every process) and hostnames of the runs in `file`. */
function runs(file: string): { at: number; host: string }[] {
  return lines(file)
    .map((line) => {
      const [at, host] = line.split(' ')
      return { at: Number(at), host: host.split('@')[0] }
    })
    .sort((a, b) => a.at - b.at)
}

t.test('nats - globalRateLimit 10/s holds across two worker processes', async (t) => {
  const file = `${tempDir(t)}/limited`
  const nodes = await Promise.all([worker('limit-1@%h', ['-c', '2', '-Q', 'limited,limited-1']), worker('limit-2@%h', ['-c', '2', '-Q', 'limited,limited-2'])])
  // One run on each node first (recording nothing): a cold first run starts late, which would
  // shorten the gap after it and measure start-up, not the limit.
  await Promise.all(['limited-1', 'limited-2'].map(async (queue) => (await f.globalLimited.applyAsync([''], { queue })).get({ timeout: 10 })))
  const results = await Promise.all(Array.from({ length: 12 }, () => f.globalLimited.applyAsync([file], { queue: 'limited' })))
  const hosts = await Promise.all(results.map((r) => r.get({ timeout: 20 })))
  const seen = runs(file)
  t.equal(seen.length, 12, 'every task ran once')
  const spacing = obeysInterval(seen.map((run) => run.at), 100)
  t.ok(spacing.ok, `at most 10/s across both processes: ${spacing.detail}`)
  t.same([...new Set(hosts.map((h) => h.split('@')[0]))].sort(), ['limit-1', 'limit-2'], 'both processes ran tasks')
  await Promise.all(nodes.map((w) => w.stop()))
})

t.test('nats - a reservation the broker refuses is retried: a deleted rate bucket is created again', async (t) => {
  const file = `${tempDir(t)}/retried`
  const node = await worker('retry@%h', ['-c', '1', '-Q', 'limited-retry'])
  t.match(await (await f.globalLimited.applyAsync([file], { queue: 'limited-retry' })).get({ timeout: 10 }), /^retry@/)
  // Deleted behind the node's back: its next reservation fails, is logged and tried again.
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  t.ok(await jsm.streams.delete('KV_celeriac-rate'), 'the bucket is gone')
  t.match(await (await f.globalLimited.applyAsync([file], { queue: 'limited-retry' })).get({ timeout: 10 }), /^retry@/, 'the next task still runs')
  t.equal(lines(file).length, 2)
  t.match(node.output(), /could not reserve a cluster-wide rate-limit slot: retrying/, 'the failure was logged')
  t.ok(await jsm.streams.info('KV_celeriac-rate'), 'the bucket exists again')
  await node.stop()
})

t.test('nats - a warm stop gives back the tasks held for a rate limit: each runs once on the next node, within seconds', async (t) => {
  const file = `${tempDir(t)}/rated`
  const first = await worker('rated-1@%h', ['-c', '1', '-Q', 'rated'])
  const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((tag) => f.slowRated.applyAsync([file, tag], { queue: 'rated' })))
  t.equal(await results[0].get({ timeout: 10 }), 'a')
  // The other four wait for the limit (1/m) in the node: it has received them.
  await until(() => lines(file).length, (n) => n === 1, 'the first run')
  t.equal(await first.stop(), 0, 'warm stop')
  // The next node runs without rate limits; under its ack wait (30 s) means given back, not lost.
  await worker('rated-2@%h', ['-c', '1', '-Q', 'rated'], { CELERIAC_WORKER_DISABLE_RATE_LIMITS: 'true' })
  t.same(await Promise.all(results.slice(1).map((r) => r.get({ timeout: 25 }))), ['b', 'c', 'd', 'e'])
  const ran = lines(file).map((line) => line.split(' ')[0]).sort()
  t.same(ran, ['a', 'b', 'c', 'd', 'e'], 'each ran once')
})
