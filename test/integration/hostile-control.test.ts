/**
 * Hostile-input audit, defects 1 to 3, against a `celeriac worker` in its own process on a real
 * nats-server: one malformed control command killed every worker process (an unhandled
 * rejection), `pool_grow 1e9` made every node spawn threads until it ran out of memory, and one
 * malformed event ended every event stream (`celeriac events` exited, the dashboard went blind).
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { startNatsFixture, natsAppModule, type NatsFixture } from '../helpers/nats-fixture.js'
import { CONTROL_SUBJECT, INSPECT_SUBJECT } from '../../src/client/control.js'
import { eventSubject } from '../../src/events/events.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { celeriac, startCeleriac } from '../helpers/cli.js'
import { lines, tempDir } from '../helpers/files.js'
import { until } from '../helpers/until.js'

const fixture = natsAppModule
const node = `hostile-control@${hostname()}`

let nats: NatsFixture
let f: NatsFixture['f']
let env: Record<string, string>
let worker: WorkerProcess

// Worker and CLI processes take a second or more each to start on a busy 2-core machine.
t.setTimeout(120_000)

t.before(async () => {
  nats = await startNatsFixture()
  ;({ f, env } = nats)
  worker = await startWorkerProcess({ app: fixture, hostname: node, args: ['-c', '2', '-Q', 'hostile-control', '-E'], env })
})
t.teardown(async () => {
  await worker?.stop('SIGKILL')
  await nats?.close()
})

const alive = () => {
  const { exitCode, signalCode } = worker.child
  if (exitCode !== null || signalCode !== null) throw new Error(`the worker process exited (${exitCode ?? signalCode}):\n${worker.output()}`)
}

/** Control requests of the wrong shape, each with what the node's warning says of it. */
const MALFORMED: [shape: string, data: Uint8Array, reason: string][] = [
  ['a msgpack nil', new Uint8Array([0xc0]), 'the request must be an object, got null'],
  ['destination: 7', msgpackCodec.encode({ command: 'ping', arguments: {}, destination: 7 }), 'destination must be a node name or a list of them, got 7'],
  ['destination: [1]', msgpackCodec.encode({ command: 'ping', arguments: {}, destination: [1] }), 'destination must be a node name or a list of them, got an array of 1'],
  ['command: 5', msgpackCodec.encode({ command: 5, arguments: {} }), 'command must be a string, got 5'],
  ['no command', msgpackCodec.encode({ destination: [node] }), 'command must be a string, got undefined'],
  ['arguments: "x"', msgpackCodec.encode({ command: 'ping', arguments: 'x' }), 'arguments must be an object, got "x"'],
  ['arguments: [1]', msgpackCodec.encode({ command: 'ping', arguments: [1] }), 'arguments must be an object, got an array of 1'],
]

t.test('hostile control - malformed commands on either control subject are dropped with a warning; the node and its running task go on', async (t) => {
  const dir = tempDir(t)
  const file = `${dir}/held`
  const release = `${dir}/release`
  const running = await f.heldLate.applyAsync([file, release], { queue: 'hostile-control' })
  await until(() => lines(file), (l) => l.length > 0, 'the task to start')
  const transport = await f.app.transport()
  for (const subject of [INSPECT_SUBJECT, CONTROL_SUBJECT]) for (const [, data] of MALFORMED) transport.broadcast(subject, data)
  for (const [shape, , reason] of MALFORMED) {
    // The worker logs JSON lines: the message as JSON text.
    const line = `"msg":${JSON.stringify(`dropped a malformed control command: ${reason}`)}`
    const warnings = () => {
      alive()
      return worker.output().split(line).length - 1
    }
    await until(warnings, (n) => n === 2, `the warnings for ${shape}, one per subject`)
  }
  alive()
  t.same(await f.app.control.ping({ destination: node, timeout: 5 }), { [node]: { ok: 'pong' } }, 'the node still answers')
  writeFileSync(release, '')
  t.equal(await running.get({ timeout: 10 }), node, 'the task in flight completes')
  alive()
})

t.test('hostile control - the CLI refuses a pool size that is not an integer from 1 to 1,024 before sending it', async (t) => {
  // `-d` names no node: a CLI that did send it would make no node grow.
  for (const [method, n] of [['pool_grow', '1e9'], ['pool_grow', '2000'], ['pool_grow', '1.5'], ['pool_grow', '0x10'], ['pool_shrink', '1025'], ['pool_shrink', '0']]) {
    const run = await celeriac(['control', method, n, '-d', 'nobody@nowhere', '-t', '0.2'], env)
    t.same([run.code, run.stderr], [2, `celeriac: control ${method}: n must be an integer from 1 to 1024, got "${n}"\n`], `${method} ${n}`)
  }
})

t.test('hostile control - a node refuses to grow past 1,024 threads, and says why', async (t) => {
  const grow = (n: number) => f.app.control.poolGrow(n, { destination: node, timeout: 5 })
  t.same(await grow(1e9), { [node]: { error: 'n must be at most 1024 (the threads a node may have), got 1000000000' } })
  t.same(await grow(1023), { [node]: { error: 'the pool would have 1025 threads, more than the 1024 a node may have: it keeps its 2' } })
  t.same(await f.app.control.poolShrink(1e9, { destination: node, timeout: 5 }), { [node]: { error: 'n must be at most 1024 (the threads a node may have), got 1000000000' } })
  const stats = await f.app.control.inspect({ destination: node, timeout: 5 }).stats()
  t.equal(stats[node].ok!.pool.threads, 2, 'the pool is as it was')
  // The error reply as the CLI prints it: sent through the client, past the CLI's own check.
  const cli = await celeriac(['control', 'pool_grow', '1023', '-d', node], env)
  t.same([cli.code, cli.stdout], [1, `->  ${node}: ERROR\n        the pool would have 1025 threads, more than the 1024 a node may have: it keeps its 2\n`])
  alive()
})

t.test('hostile events - a malformed event on the bus stops neither app.events.subscribe nor celeriac events', async (t) => {
  const dump = startCeleriac(['events', '--dump', '-A', fixture], env)
  t.teardown(() => dump.stop('SIGKILL'))
  await dump.waitFor(/dumping all events/)
  const stream = f.app.events.subscribe('task-*')
  t.teardown(() => stream.close())
  await stream.ready
  const transport = await f.app.transport()
  transport.broadcast(eventSubject('task-received'), new Uint8Array([0xc0]))
  transport.broadcast(eventSubject('task-received'), msgpackCodec.encode({ uuid: 'no-type' }))
  const result = await f.add.applyAsync([20, 22], { queue: 'hostile-control' })
  t.equal(await result.get({ timeout: 10 }), 42)
  for await (const event of stream) if (event.type === 'task-succeeded' && event.uuid === result.id) break
  t.pass('app.events.subscribe yields the events after the malformed ones')
  await dump.waitFor(new RegExp(`task-succeeded uuid=${result.id}`))
  t.match(dump.output(), 'skipped 1 malformed event; the latest: not an object, got null', 'celeriac events says what it skipped')
  t.equal(await dump.stop('SIGTERM'), 0, 'celeriac events ran until stopped')
})
