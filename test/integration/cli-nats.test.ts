import t from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { type NatsServer } from '../../src/testing/nats-server.js'
import { startNatsFixture, natsAppModule, type NatsFixture } from '../helpers/nats-fixture.js'
import { TaskState } from '../../src/index.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { celeriac, startCeleriac } from '../helpers/cli.js'
import { lines, tempDir } from '../helpers/files.js'

// The celeriac command, run as a user runs it, against a real nats-server and real worker
// processes: one server and one pair of workers (queue `cli`) serve most tests.
const fixture = natsAppModule
const host = hostname()

let nats: NatsFixture
let server: NatsServer
let f: NatsFixture['f']
let env: Record<string, string>
const workers: WorkerProcess[] = []

// Every step starts CLI processes (a second or more each on a busy 2-core machine): the file's
// time is their sum, not a hang.
t.setTimeout(180_000)

t.before(async () => {
  nats = await startNatsFixture()
  ;({ server, f, env } = nats)
  await Promise.all([worker('cli-1@%h', ['-c', '1', '-Q', 'cli', '-E']), worker('cli-2@%h', ['-c', '1', '-Q', 'cli', '-E'])])
})
t.teardown(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')))
  await nats?.close()
})

async function worker(name: string, args: string[]): Promise<WorkerProcess> {
  const w = await startWorkerProcess({ app: fixture, hostname: name, args, env })
  workers.push(w)
  return w
}

/** `celeriac <args> -A fixture`, with the server in the environment. */
function cli(...args: string[]) {
  return celeriac([...args, '-A', fixture], env)
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

t.test('cli nats - call prints the id; result prints the value; bad arguments exit 2, a call the task cannot take 1', async (t) => {
  const call = await cli('call', 'n.add', '--args', '[2, 3]', '--queue', 'cli')
  t.equal(call.code, 0, call.stderr)
  const id = call.stdout.trim()
  t.match(id, /^[0-9a-f-]{36}$/)
  const result = await cli('result', id, '--timeout', '20')
  t.same([result.code, result.stdout], [0, '5\n'])
  const bad = await cli('call', 'n.add', '--args', '{"x": 1}')
  t.same([bad.code, bad.stderr], [2, 'celeriac: --args must be an array in JSON, got {"x": 1}\n'])
  const typed = await cli('call', 'n.add', '--args', '[1]', '--queue', 'cli')
  t.equal(typed.code, 1, 'a call the task cannot take fails before it is sent')
  t.match(typed.stderr, /n\.add/)
})

t.test('cli nats - status lists both nodes; inspect active shows a running task; inspect registered', async (t) => {
  const file = `${tempDir(t)}/slow`
  // Long enough to be running whatever time the CLI takes to start here; revoked at the end.
  const slow = await f.slowLate.applyAsync([60_000, file], { queue: 'cli' })
  await until(() => lines(file).length > 0, 'the slow task to start')
  const [status, active, registered] = await Promise.all([cli('status', '-t', '2'), cli('inspect', 'active', '--json', '-t', '2'), cli('inspect', 'registered', '-d', `cli-1@${host}`)])
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, `->  cli-1@${host}: OK\n->  cli-2@${host}: OK\n`)
  t.match(status.stdout, /\n2 nodes online\.\n$/)
  t.equal(active.code, 0, active.stderr)
  // As `celery inspect active -j` prints it: node name to its list, no `ok` around it.
  const replies = JSON.parse(active.stdout) as Record<string, { id: string; name: string; args: unknown[] }[]>
  t.same(Object.keys(replies).sort(), [`cli-1@${host}`, `cli-2@${host}`])
  const running = Object.values(replies).flat()
  t.match(running, [{ id: slow.id, name: 'n.slowLate', args: [60_000, file] }])
  t.equal(registered.code, 0)
  t.equal(registered.stdout, `->  cli-1@${host}: OK\n        * n.add\n        * n.globalLimited\n        * n.held\n        * n.heldLate\n        * n.mark\n        * n.noop\n        * n.slowLate\n        * n.slowRated\n        * n.spin\n        * n.stamp\n`)
  await slow.revoke({ terminate: true })
  await t.rejects(slow.get({ timeout: 20 }), { name: 'TaskRevokedError' }, 'terminated')
})

t.test('cli nats - control rate_limit: every node replies; an unknown task is an ERROR reply and exit 1', async (t) => {
  const [ok, bad] = await Promise.all([cli('control', 'rate_limit', 'n.noop', '100/m', '-t', '2'), cli('control', 'rate_limit', 'n.nope', '1/s', '-d', `cli-2@${host}`)])
  t.equal(ok.code, 0, ok.stderr)
  t.equal(ok.stdout, `->  cli-1@${host}: OK\n        new rate limit set successfully\n->  cli-2@${host}: OK\n        new rate limit set successfully\n`)
  t.equal(bad.code, 1)
  t.equal(bad.stdout, `->  cli-2@${host}: ERROR\n        task "n.nope" is not registered on cli-2@${host}\n`)
  t.match(bad.stderr, `celeriac: cli-2@${host} replied with an error`)
  const nobody = await cli('inspect', 'ping', '-d', 'ghost@nowhere', '-t', '0.3')
  t.same([nobody.code, nobody.stderr], [1, 'celeriac: no nodes replied within the time limit\n'])
  // CLI audit: -d without the host part named no node, and nothing said why.
  const hostless = await cli('inspect', 'ping', '-d', 'cli-1', '-t', '0.3')
  t.same([hostless.code, hostless.stderr], [1, `celeriac: no nodes replied within the time limit (node names have a host part, as in cli-1@${hostname()}: -d cli-1 names none; \`celeriac status\` lists them)\n`])
  const ping = await cli('inspect', 'ping', '-j', '-d', `cli-1@${host}`)
  t.same(JSON.parse(ping.stdout), { [`cli-1@${host}`]: { ok: 'pong' } }, 'ping keeps Celery\'s {"ok": "pong"}')
})

t.test('cli nats - control revoke with no node online succeeds: the revoke is stored, and a node that gets the task later discards it', async (t) => {
  const id = crypto.randomUUID()
  const revoke = await cli('control', 'revoke', id, '-d', 'ghost@nowhere', '-t', '0.3')
  t.same([revoke.code, revoke.stderr], [0, ''])
  t.equal(revoke.stdout, 'no node online replied; the revoke is stored: a node that receives this task within workerRevokeExpires (10800 s) discards it\n')
  const late = await f.add.applyAsync([1, 2], { taskId: id, queue: 'cli' })
  await t.rejects(late.get({ timeout: 20 }), { name: 'TaskRevokedError' })
})

t.test('cli nats - purge empties a queue (-f); without -f and no terminal it refuses', async (t) => {
  for (let i = 0; i < 3; i++) await f.add.applyAsync([i, i], { queue: 'cli-idle' })
  const refused = await cli('purge', '-Q', 'cli-idle')
  t.same([refused.code, refused.stderr], [2, 'celeriac: purge: stdin is not a terminal to confirm on: pass -f to purge without asking\n'])
  const purged = await cli('purge', '-Q', 'cli-idle', '-f')
  t.same([purged.code, purged.stdout], [0, 'Purged 3 messages from 1 known task queue.\n'])
  t.equal(await (await f.app.transport()).depth('cli-idle'), 0)
})

t.test('cli nats - events --dump prints task events from the worker processes as they happen', async (t) => {
  const dump = startCeleriac(['events', '--dump', '-A', fixture], env)
  await dump.waitFor(/dumping all events/)
  const result = await f.add.applyAsync([20, 22], { queue: 'cli' })
  await dump.waitFor(new RegExp(`task-succeeded uuid=${result.id}`))
  await dump.waitFor(/worker-heartbeat/, 10_000)
  t.equal(await dump.stop('SIGTERM'), 0)
  const mine = dump.output().split('\n').filter((line) => line.includes(result.id))
  t.match(mine.map((line) => line.split(' ').slice(2, 3)[0]), ['task-received', 'task-started', 'task-succeeded'])
  t.match(mine[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+Z cli-[12]@${host} task-received uuid=${result.id} name=n.add`))
  t.match(dump.output(), new RegExp(`cli-[12]@${host} worker-heartbeat freq=2 swIdent=celeriac`), 'worker heartbeats too')
})

t.test('cli nats - control revoke --terminate stops a running task', async (t) => {
  const file = `${tempDir(t)}/revoked`
  const slow = await f.slowLate.applyAsync([10_000, file], { queue: 'cli' })
  await until(() => lines(file).length > 0, 'the task to start')
  const revoke = await cli('control', 'revoke', slow.id, '--terminate')
  t.equal(revoke.code, 0, revoke.stderr)
  t.match(revoke.stdout, `flagged as revoked`)
  const result = await cli('result', slow.id, '-t', '10', '--traceback')
  t.equal(result.code, 1)
  t.match(result.stdout, /^TaskRevokedError: task n\.slowLate\[\S+\] revoked and terminated/, 'the traceback')
  t.match(result.stderr, `celeriac: task ${slow.id} failed: TaskRevokedError`)
  t.equal(await slow.state(), TaskState.REVOKED)
  t.notOk(lines(file).some((line) => line.startsWith('end')), 'it never finished')
})

t.test('cli nats - SIGTERM: warm shutdown lets the running task finish; exit 0', async (t) => {
  const file = `${tempDir(t)}/warm`
  const w = await worker('warm@%h', ['-c', '1', '-Q', 'warm'])
  const slow = await f.slowLate.applyAsync([1500, file], { queue: 'warm' })
  await until(() => lines(file).length > 0, 'the task to start')
  t.equal(await w.stop('SIGTERM'), 0)
  t.match(w.output(), /SIGTERM: warm shutdown/)
  t.match(lines(file), [/^start warm@/, /^end warm@/], 'it finished before the node exited')
  t.equal(await slow.get({ timeout: 5 }), `warm@${host}`)
})

t.test('cli nats - SIGQUIT: cold shutdown; an acksLate task runs again on the other node, early-acked ones fail, each told', async (t) => {
  const file = `${tempDir(t)}/cold`
  const early = `${tempDir(t)}/early`
  const release = `${tempDir(t)}/release`
  const doomed = await worker('cold-1@%h', ['-c', '1', '-Q', 'cold'])
  // Held until released, however long the second node takes to start here.
  const slow = await f.heldLate.applyAsync([file, release], { queue: 'cold' })
  const acked = await Promise.all(Array.from({ length: 8 }, () => f.held.applyAsync([early, release], { queue: 'cold' })))
  await until(() => lines(file).length > 0 && lines(early).length === 8, 'the tasks to start on the first node')
  await worker('cold-2@%h', ['-c', '1', '-Q', 'cold'])
  t.equal(await doomed.stop('SIGQUIT'), 1, 'a cold shutdown exits 1, as Celery\'s (CLI audit)')
  t.match(doomed.output(), /SIGQUIT: cold shutdown/)
  t.match(doomed.output(), 'stopped with tasks still running: 1 went back to their queues, 8 failed with WorkerLostError', 'the log says what became of them')
  // Every record is stored before the process exits: none stays PENDING.
  for (const result of acked) await t.rejects(result.get({ timeout: 5 }), { name: 'WorkerLostError', message: /was still running when worker cold-1@\S+ stopped cold/ })
  writeFileSync(release, '')
  t.equal(await slow.get({ timeout: 30 }), `cold-2@${host}`)
  t.same(lines(file).map((line) => line.split(' ').slice(0, 2).join(' ')), [`start cold-1@${host}`, `start cold-2@${host}`, `end cold-2@${host}`])
})

t.test('cli nats - kill -9: tasks waiting on a thread behind a CPU-bound task were not acked yet, so they run on another node', async (t) => {
  const file = `${tempDir(t)}/behind`
  const ackWait = { ...env, CELERIAC_BROKER_ACK_WAIT: '2' }
  const doomed = await startWorkerProcess({ app: fixture, hostname: 'behind-1@%h', args: ['-c', '1', '-Q', 'behind'], env: ackWait })
  workers.push(doomed)
  // Sent together, they reach the one thread in one batch: the spin starts and holds it, the
  // marks wait behind it on that thread.
  const [, ...marks] = await Promise.all([
    f.spin.applyAsync([file, 60_000], { queue: 'behind' }),
    ...[1, 2, 3].map((i) => f.mark.applyAsync([file, `mark${i}`], { queue: 'behind' })),
  ])
  await until(() => lines(file).some((line) => line.startsWith('spin')), 'the spin to start')
  await doomed.stop('SIGKILL')
  const other = await startWorkerProcess({ app: fixture, hostname: 'behind-2@%h', args: ['-c', '1', '-Q', 'behind'], env: ackWait })
  workers.push(other)
  // A fresh worker process compiles its app first: on a loaded 2-core machine that alone can take 10 s or more.
  const ran = await Promise.all(marks.map((mark) => mark.get({ timeout: 60 })))
  t.same(ran.map((r) => r.hostname), [`behind-2@${host}`, `behind-2@${host}`, `behind-2@${host}`], 'each ran on the node that lived')
})

t.test('cli nats - a queue whose consumer has a shorter ack wait than brokerAckWait: acksLate tasks run once, the node says why', async (t) => {
  const file = `${tempDir(t)}/lease`
  // A node makes the queue's consumer with a 1 s ack wait, and stops.
  const maker = await startWorkerProcess({ app: fixture, hostname: 'lease-1@%h', args: ['-c', '1', '-Q', 'lease'], env: { ...env, CELERIAC_BROKER_ACK_WAIT: '1' } })
  await maker.stop()
  // A node at 30 s runs a 6 s task. It renewed its running tasks every 10 s, so the server
  // handed the task to the next node that asked, after 1 s.
  const long = await startWorkerProcess({ app: fixture, hostname: 'lease-2@%h', args: ['-c', '1', '-Q', 'lease'], env: { ...env, CELERIAC_BROKER_ACK_WAIT: '30' } })
  workers.push(long)
  t.match(long.output(), /queue \\?"lease\\?": the broker redelivers an unacked task after 1 s, the ack wait its consumer was made with, not brokerAckWait \(30 s\)/)
  const result = await f.slowLate.applyAsync([6_000, file], { queue: 'lease' })
  await until(() => lines(file).length > 0, 'the task to start')
  workers.push(await startWorkerProcess({ app: fixture, hostname: 'lease-3@%h', args: ['-c', '1', '-Q', 'lease'], env: { ...env, CELERIAC_BROKER_ACK_WAIT: '1' } }))
  t.equal(await result.get({ timeout: 60 }), `lease-2@${host}`)
  t.same(lines(file).map((line) => line.split(' ').slice(0, 2).join(' ')), [`start lease-2@${host}`, `end lease-2@${host}`], 'it ran once, where it started')
})

t.test('cli nats - multi start then stopwait: background nodes with pidfiles and logfiles', async (t) => {
  const dir = tempDir(t)
  const files = ['--pidfile', `${dir}/%n.pid`, '--logfile', `${dir}/%n%I.log`]
  const start = await celeriac(['multi', 'start', 'm1', 'm2', ...files, '-A', fixture, '-c', '1', '-Q', 'multi'], env)
  t.equal(start.code, 0, start.stdout + start.stderr)
  t.match(start.stdout, new RegExp(`> m1@${host}: OK \\(pid \\d+\\)`))
  t.match(start.stdout, new RegExp(`> m2@${host}: OK \\(pid \\d+\\)`))
  t.ok(existsSync(`${dir}/m1.pid`) && existsSync(`${dir}/m2.pid`), 'pidfiles written')
  t.match(readFileSync(`${dir}/m1.log`, 'utf8'), `m1@${host} ready.`)
  t.equal(await (await f.add.applyAsync([1, 2], { queue: 'multi' })).get({ timeout: 20 }), 3, 'the nodes serve')
  const stop = await celeriac(['multi', 'stopwait', 'm1', 'm2', ...files], env)
  t.equal(stop.code, 0, stop.stderr)
  t.match(stop.stdout, `> m1@${host}: DOWN`)
  t.match(stop.stdout, `> m2@${host}: DOWN`)
  t.notOk(existsSync(`${dir}/m1.pid`) || existsSync(`${dir}/m2.pid`), 'pidfiles removed on exit')
})

t.test('cli nats - multi names, show and kill: kill sends KILL and removes the pidfile the node could not', async (t) => {
  const dir = tempDir(t)
  const files = ['--pidfile', `${dir}/%n.pid`, '--logfile', `${dir}/%n%I.log`]
  const names = await celeriac(['multi', 'names', '2'], env)
  t.same([names.code, names.stdout], [0, `celery1@${host}\ncelery2@${host}\n`])
  const show = await celeriac(['multi', 'show', 'k1', ...files, '-A', fixture, '-Q', 'a b'], env)
  t.same([show.code, show.stdout], [0, `celeriac worker -n k1@${host} --pidfile ${dir}/k1.pid --logfile ${dir}/k1.log -A ${fixture} -Q 'a b'\n`])
  const start = await celeriac(['multi', 'start', 'k1', ...files, '-A', fixture, '-c', '1', '-Q', 'multi-kill'], env)
  t.equal(start.code, 0, start.stdout + start.stderr)
  const pid = Number(readFileSync(`${dir}/k1.pid`, 'utf8'))
  const exited = new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      try {
        process.kill(pid, 0)
      } catch {
        clearInterval(poll)
        resolve()
      }
    }, 50)
  })
  const kill = await celeriac(['multi', 'kill', 'k1', ...files], env)
  t.same([kill.code, kill.stdout], [0, `> Killing nodes...\n\t> k1@${host}: KILL -> ${pid}\n`])
  await exited
  t.notOk(existsSync(`${dir}/k1.pid`), 'pidfile removed')
  t.notMatch(readFileSync(`${dir}/k1.log`, 'utf8'), 'warm shutdown', 'killed, not stopped')
  const again = await celeriac(['multi', 'kill', 'k1', ...files], env)
  t.same([again.code, again.stdout], [0, `> Killing nodes...\n\t> k1@${host}: not running\n`])
})
