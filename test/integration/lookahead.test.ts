/**
 * The worker's lookahead (src/worker/lookahead.ts) with real worker processes on a real
 * nats-server: a node running short tasks reserves the next one before its slot frees, a
 * reserved task is the broker's until it starts (a killed node's reserved task runs elsewhere),
 * and a node running long tasks reserves none.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { lines, tempDir } from '../helpers/files.js'
import type { App } from '../../src/index.js'
import { until } from '../helpers/until.js'

const appModule = fileURLToPath(new URL('../fixtures/nats-app.ts', import.meta.url))
type Fixture = typeof import('../fixtures/nats-app.js')

let server: NatsServer
let f: Fixture
let app: App
const workers: WorkerProcess[] = []

t.setTimeout(120_000)
t.before(async () => {
  server = await startNatsServer()
  process.env.CELERIAC_BROKER_URL = server.url
  f = await import('../fixtures/nats-app.js')
  app = f.app
})
t.teardown(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')))
  await app?.close()
  await server?.cleanup()
})

/** A worker process and its node name as it answers (`%h` expanded). */
async function worker(name: string, queue: string, lookahead: string): Promise<WorkerProcess & { node: string }> {
  const w = await startWorkerProcess({ app: appModule, hostname: `${name}@%h`, args: ['-c', '1', '--tasks-per-thread', '1', '--lookahead', lookahead, '-Q', queue], env: { CELERIAC_BROKER_URL: server.url } })
  workers.push(w)
  return Object.assign(w, { node: `${name}@${hostname()}` })
}


t.test('lookahead - a node running short tasks reserves the next one; killed, its reserved task runs on another node', async (t) => {
  const dir = tempDir(t)
  const queue = 'la-reserve'
  const first = await worker('la-first', queue, '1s')
  // Short tasks: the node learns it finishes many a second, so it reserves (up to its 1 slot).
  const warm = await Promise.all(Array.from({ length: 60 }, (_, i) => f.noop.applyAsync([i], { queue })))
  t.same(await Promise.all(warm.map((r) => r.get({ timeout: 20 }))), Array.from({ length: 60 }, (_, i) => i))
  // One task holds the only slot; the next is reserved behind it.
  await f.held.applyAsync([`${dir}/held`, `${dir}/release`], { queue })
  await until(() => lines(`${dir}/held`), (l) => l.length === 1, 'the held task to start', 20_000)
  const reserved = await f.mark.applyAsync([`${dir}/marks`, 'reserved'], { queue })
  const listed = await until(
    () => app.control.inspect({ destination: first.node, timeout: 1 }).reserved(),
    (r) => (r[first.node]?.ok ?? []).some((task) => task.id === reserved.id),
    'the first node to list the task as reserved',
    20_000,
  )
  t.match(listed[first.node].ok, [{ id: reserved.id, name: 'n.mark', timeStart: null }], 'reserved: pulled, not started')
  await first.stop('SIGKILL')
  // The reserved task was never acked: after its ack wait (2 s) the broker hands it to the next node.
  const second = await worker('la-second', queue, '0')
  t.match(await reserved.get({ timeout: 30 }), { label: 'reserved', pid: second.child.pid }, 'it ran on the second node')
  t.equal(lines(`${dir}/marks`).length, 1, 'once')
  writeFileSync(`${dir}/release`, '')
})

t.test('lookahead - a node running long tasks reserves none: what it cannot start goes to an idle node', async (t) => {
  const dir = tempDir(t)
  const queue = 'la-long'
  const busy = await worker('la-busy', queue, '10ms')
  // 300 ms tasks in one slot: about 3 a second, so 10 ms ahead is no task at all.
  const long = await Promise.all(Array.from({ length: 3 }, () => f.slowLate.applyAsync([300, `${dir}/runs`], { queue })))
  t.same(await Promise.all(long.map((r) => r.get({ timeout: 30 }))), [busy.node, busy.node, busy.node])
  await f.held.applyAsync([`${dir}/held`, `${dir}/release`], { queue })
  await until(() => lines(`${dir}/held`), (l) => l.length === 1, 'the held task to start', 20_000)
  const idle = await worker('la-idle', queue, '10ms')
  // Had the busy node reserved, its pull (older than the idle node's) would have taken this one.
  const next = await f.mark.applyAsync([`${dir}/marks`, 'next'], { queue })
  t.match(await next.get({ timeout: 20 }), { label: 'next', pid: idle.child.pid }, 'it ran at once on the idle node')
  writeFileSync(`${dir}/release`, '')
})

t.test('lookahead - --lookahead is checked, and the banner and inspect stats say it', async (t) => {
  const w = await worker('la-stats', 'la-stats', '25ms')
  t.match(w.output(), /\.> lookahead: {3}25 ms \(reserves the tasks it will start within it\)/)
  const stats = await app.control.inspect({ destination: w.node, timeout: 2 }).stats()
  t.equal(stats[w.node]?.ok?.pool.lookaheadMs, 25)
  await t.rejects(worker('la-bad', 'la-bad', 'soon'), /--lookahead must be a number of seconds or a duration like '10s', got "soon"/)
})
