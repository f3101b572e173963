import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { TransportError } from '../../src/index.js'
import { isAlive } from '../../src/cli/worker.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { celeriac, startCeleriac } from '../helpers/cli.js'
import { lines, tempDir } from '../helpers/files.js'

// The mistakes of a new user's first hour, met as the user meets them: the CLI in its own
// process, its exit code and its message.
type Fixture = typeof import('../fixtures/nats-app.js')
const natsApp = fileURLToPath(new URL('../fixtures/nats-app.ts', import.meta.url))
const memoryApp = fileURLToPath(new URL('../fixtures/app.ts', import.meta.url))
const root = fileURLToPath(new URL('../..', import.meta.url))
const host = hostname()

let server: NatsServer
let f: Fixture
let env: Record<string, string>
const workers: WorkerProcess[] = []

// Six subtests that each start processes (two through npx and tsx): about 20 s alone, and three
// times that while the rest of the suite shares 2 cores (it ran past tap's 60 s on a new machine).
t.setTimeout(180_000)

t.before(async () => {
  server = await startNatsServer()
  env = { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: 'nats://' }
  // The fixture reads its broker when imported; the CLI runs below get theirs explicitly.
  process.env.CELERIAC_BROKER_URL = server.url
  f = await import('../fixtures/nats-app.js')
  delete process.env.CELERIAC_BROKER_URL
})
t.teardown(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')))
  await f?.app.close()
  await server?.cleanup()
})

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const shared = (command: string, consequence: string, url = 'memory:// (the default: none is configured)') =>
  `celeriac: ${command}: the broker is ${url}, which lives inside this one process: ${consequence}. Name a shared one with -b nats://host:4222, CELERIAC_BROKER_URL, or the app's config (createApp({ broker }))\n`
const nodes = 'no node in another process can hear this command or answer it'

t.test('first hour - a command that talks to other processes refuses memory:// (exit 2), naming -b and CELERIAC_BROKER_URL', async (t) => {
  const [call, status, inspect, control, purge, events, result, fromApp] = await Promise.all([
    celeriac(['call', 'tasks.add', '-a', '[1, 2]']),
    celeriac(['status']),
    celeriac(['inspect', 'active']),
    celeriac(['control', 'shutdown']),
    celeriac(['purge', '-f']),
    celeriac(['events', '--dump']),
    celeriac(['result', '0b0e0c5c-7c7e-4f6a-9e55-1c0ffee00000', '-b', 'nats://127.0.0.1:1']),
    celeriac(['call', 't.add', '-A', memoryApp]),
  ])
  t.same([call.code, call.stdout, call.stderr], [2, '', shared('call', 'no worker elsewhere would ever see the task, and it would be lost when this command exits')])
  t.same([status.code, status.stderr], [2, shared('status', nodes)])
  t.same([inspect.code, inspect.stderr], [2, shared('inspect', nodes)])
  t.same([control.code, control.stderr], [2, shared('control', nodes)])
  t.same([purge.code, purge.stderr], [2, shared('purge', 'its queues are not the queues of any other process, so there is nothing to purge')])
  t.same([events.code, events.stderr], [2, shared('events', 'no node in another process can send events to it')])
  t.same([result.code, result.stderr], [2, "celeriac: result: the result backend is memory:// (the default: none is configured), which lives inside this one process: no worker stores results there, so there is nothing to wait for. Name a shared one with --result-backend nats://, CELERIAC_RESULT_BACKEND, or the app's config (createApp({ backend }))\n"])
  t.same([fromApp.code, fromApp.stderr], [2, shared('call', 'no worker elsewhere would ever see the task, and it would be lost when this command exits', 'memory://fixture')], 'an app configured for memory:// is refused too')
})

t.test('first hour - result of a task nobody ran times out with exit 1 and says so', async (t) => {
  const waited = await celeriac(['result', '0b0e0c5c-7c7e-4f6a-9e55-1c0ffee00000', '-t', '0.5'], env)
  t.equal(waited.code, 1)
  t.equal(waited.stdout, '')
  t.match(waited.stderr, /^celeriac: .*0b0e0c5c-7c7e-4f6a-9e55-1c0ffee00000.*\n$/)
  t.match(waited.stderr, /0\.5 ?s|500 ?ms/)
})

t.test('first hour - purge -Q <typo> says no such queue (exit 2) and creates none', async (t) => {
  await f.add.applyAsync([1, 1], { queue: 'first-hour' })
  const [typo, again, real] = await Promise.all([
    celeriac(['purge', '-Q', 'first-huor', '-f'], env),
    celeriac(['purge', '-Q', 'first-hour,first-huor', '-f'], env),
    celeriac(['purge', '-Q', 'first-hour', '-f'], env),
  ])
  const message = 'celeriac: purge: no queue "first-huor" on the broker (no worker or sender has declared it; check -Q)\n'
  t.same([typo.code, typo.stdout, typo.stderr], [2, '', message])
  t.same([again.code, again.stderr], [2, message], 'nothing is purged when one name is wrong')
  t.same([real.code, real.stdout], [0, 'Purged 1 message from 1 known task queue.\n'])
  const transport = await f.app.transport()
  await t.rejects(transport.depth('first-huor'), new TransportError('queue "first-huor" is not declared'), 'the typo made no queue')
})

t.test('first hour - two workers with one node name: the second warns, status shows both', async (t) => {
  const first = await startWorkerProcess({ app: natsApp, hostname: 'dup@%h', args: ['-c', '1', '-Q', 'dup'], env })
  workers.push(first)
  const second = await startWorkerProcess({ app: natsApp, hostname: 'dup@%h', args: ['-c', '1', '-Q', 'dup'], env })
  workers.push(second)
  await until(() => second.output().includes('DuplicateNodenameWarning'), 'the duplicate warning')
  t.match(second.output(), `DuplicateNodenameWarning: 2 nodes answer as dup@${host} (dup@${host} (pid ${first.child.pid}) and this one, pid ${second.child.pid}): give each node a unique name with -n (e.g. -n w2@%h)`)
  const status = await celeriac(['status', '-t', '1'], env)
  t.equal(status.code, 0, status.stderr)
  const pids = [first.child.pid!, second.child.pid!].sort()
  t.match(status.stdout, `->  dup@${host} (pid ${pids[0]}): OK\n->  dup@${host} (pid ${pids[1]}): OK\n!!  2 nodes answer as dup@${host}: give each a unique name (worker -n)\n`)
  t.match(status.stdout, '2 nodes online.')
  await Promise.all([first.stop(), second.stop()])
})

t.test('first hour - TERM to the worker started through the bin: the running task finishes, offline, exit 0', async (t) => {
  const file = `${tempDir(t)}/marks`
  const worker = startCeleriac(['worker', '-A', natsApp, '-c', '1', '-n', 'term@%h', '-Q', 'term'], env)
  await worker.waitFor(/ ready\.\n/)
  const result = await f.slowLate.applyAsync([500, file], { queue: 'term' })
  await until(() => lines(file).length > 0, 'the task to start')
  t.equal(await worker.stop('SIGTERM'), 0)
  t.same(lines(file).map((l) => l.split(' ')[0]), ['start', 'end'], 'the running task finished')
  t.equal(await result.get({ timeout: 10 }), `term@${host}`)
  t.match(worker.output(), /SIGTERM: warm shutdown/)
  t.equal(worker.output().split(`term@${host} offline.\n`).length, 2, 'offline, said once')
})

t.test('first hour - kill <pid> of `npx celeriac worker` reaches the worker: a warm shutdown', async (t) => {
  const file = `${tempDir(t)}/marks`
  // npx as a user types it, on the Node running this test.
  const child = spawn('npx', ['celeriac', 'worker', '-A', natsApp, '-c', '1', '-n', 'npx@%h', '-Q', 'npx', '-l', 'info'], {
    cwd: root,
    env: { ...process.env, ...env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk))
  // The pipes close when the last process holding them (the worker, not npm) exits.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
  await until(() => / ready\.\n/.test(output), `the worker to be ready; output:\n${output}`, 40_000)
  const pid = Number(/"pid":(\d+)/.exec(output)?.[1])
  t.not(pid, child.pid, 'the worker runs under npm, in another process')
  const result = await f.slowLate.applyAsync([500, file], { queue: 'npx' })
  await until(() => lines(file).length > 0, 'the task to start')
  child.kill('SIGTERM')
  await closed
  t.same(lines(file).map((l) => l.split(' ')[0]), ['start', 'end'], 'the running task finished')
  t.equal(await result.get({ timeout: 10 }), `npx@${host}`)
  t.match(output, /parent process \d+ exited \(npm does not pass its signals on\): warm shutdown/)
  t.match(output, `npx@${host} offline.`)
  // Gone, or a zombie its new parent has yet to reap: either way it ran to its end.
  const running = () => isAlive(pid) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  await until(() => !running(), 'the worker to exit', 5_000)
  t.pass('the worker is gone')
})
