import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { isAlive } from '../../src/cli/worker.js'
import { startNatsFixture, natsAppModule, type NatsFixture } from '../helpers/nats-fixture.js'
import { celeriac } from '../helpers/cli.js'
import { tempDir } from '../helpers/files.js'
import { until } from '../helpers/until.js'

// `celeriac multi` as an operator runs it: real nodes in the background against a real
// nats-server, each test killing what it started.
const fixture = natsAppModule
const host = hostname()

let nats: NatsFixture
let f: NatsFixture['f']
let env: Record<string, string>
const pids: number[] = []

// Each node start is a process and an app load (a second or more on a busy 2-core machine).
t.setTimeout(120_000)

t.before(async () => {
  nats = await startNatsFixture()
  ;({ f, env } = nats)
})
t.teardown(async () => {
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  await nats?.close()
})

/** Remembers the node in `pidfile` so that teardown kills it if a test fails before stopping it. */
function started(pidfile: string): number {
  const pid = Number(readFileSync(pidfile, 'utf8'))
  pids.push(pid)
  return pid
}

t.test('multi - per-node options: -c:m1 2 and -Q:2 apply to that node only, show prints what each gets (audit 1)', async (t) => {
  const dir = tempDir(t)
  const files = ['--pidfile', `${dir}/%n.pid`, '--logfile', `${dir}/%n%I.log`]
  const args = ['m1', 'm2', ...files, '-A', fixture, '-c', '1', '-Q', 'multi-all', '-c:m1', '2', '-Q:2', 'multi-m2']
  const show = await celeriac(['multi', 'show', ...args], env)
  t.same([show.code, show.stdout], [0, [
    `celeriac worker -n m1@${host} --pidfile ${dir}/m1.pid --logfile ${dir}/m1.log -A ${fixture} -c 2 -Q multi-all`,
    `celeriac worker -n m2@${host} --pidfile ${dir}/m2.pid --logfile ${dir}/m2.log -A ${fixture} -c 1 -Q multi-m2`,
    '',
  ].join('\n')])

  const forms = await celeriac(['multi', 'show', '3', '-A', 'a.ts', '--concurrency', '1', '-c:1-2', '4', '--queues:1,3=x', `--loglevel:celery3@${host}`, 'debug', '--logfile:2', 'two.log'], env)
  t.same([forms.code, forms.stdout], [0, [
    `celeriac worker -n celery1@${host} --pidfile celery1.pid --logfile celery1.log -A a.ts -c 4 --queues=x`,
    `celeriac worker -n celery2@${host} --pidfile celery2.pid --logfile two.log -A a.ts -c 4`,
    `celeriac worker -n celery3@${host} --pidfile celery3.pid --logfile celery3.log -A a.ts --concurrency 1 --queues=x --loglevel debug`,
    '',
  ].join('\n')], 'a range, a list, a full name, --long:sel=value; the node value replaces the general one whichever spelling')

  const nodes = `the nodes: 1 m1@${host}, 2 m2@${host}; select one by its name, its index, a range 1-3 or a list 1,3`
  const unknown = await Promise.all([
    celeriac(['multi', 'start', 'm1', 'm2', ...files, '-A', fixture, '-c:m9', '2'], env),
    celeriac(['multi', 'show', 'm1', 'm2', '-A', fixture, '--queues:1,5=x'], env),
  ])
  t.same(unknown.map((run) => [run.code, run.stderr]), [
    [2, `celeriac: multi: -c:m9 names no node (${nodes})\n`],
    [2, `celeriac: multi: --queues:1,5: 5 names no node (${nodes})\n`],
  ])
  t.notOk(existsSync(`${dir}/m1.pid`), 'a bad selector starts nothing')

  const start = await celeriac(['multi', 'start', ...args], env)
  t.equal(start.code, 0, start.stdout + start.stderr)
  started(`${dir}/m1.pid`)
  started(`${dir}/m2.pid`)
  t.match(readFileSync(`${dir}/m1.log`, 'utf8'), /\.> concurrency: 2 \(threads\)[^]*\.> multi-all /)
  const m2 = readFileSync(`${dir}/m2.log`, 'utf8')
  t.match(m2, /\.> concurrency: 1 \(threads\)[^]*\.> multi-m2 /)
  t.notMatch(m2, '.> multi-all ')
  t.equal((await (await f.mark.applyAsync(['', 'own'], { queue: 'multi-m2' })).get({ timeout: 20 })).hostname, `m2@${host}`, 'm2 serves its own queue')
  const stop = await celeriac(['multi', 'stopwait', ...args], env)
  t.equal(stop.code, 0, stop.stderr)
  t.match(stop.stdout, `> m1@${host}: DOWN`)
  t.match(stop.stdout, `> m2@${host}: DOWN`)
})

t.test('multi - a pidfile holding another process\'s pid is stale: stop does not signal it, start replaces it (audit 2)', async (t) => {
  const dir = tempDir(t)
  const files = ['--pidfile', `${dir}/%n.pid`, '--logfile', `${dir}/%n%I.log`]
  // Any live process of this user: after a reboot or a crash its pid can sit in a node's pidfile.
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  t.teardown(() => other.kill('SIGKILL'))
  const pid = other.pid!
  writeFileSync(`${dir}/m3.pid`, `${pid}\n`)
  const stale = `stale pidfile ${dir}/m3.pid: pid ${pid} is another process, not m3@${host}`

  const stop = await celeriac(['multi', 'stop', 'm3', ...files], env)
  t.same([stop.code, stop.stdout], [0, `> Stopping nodes...\n\t> m3@${host}: ${stale}: not signalled\n`])
  const kill = await celeriac(['multi', 'kill', 'm3', ...files], env)
  t.same([kill.code, kill.stdout], [0, `> Killing nodes...\n\t> m3@${host}: ${stale}: not signalled\n`])
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.ok(isAlive(pid) && other.exitCode === null && other.signalCode === null, 'the other process lives')

  const start = await celeriac(['multi', 'start', 'm3', ...files, '-A', fixture, '-c', '1', '-Q', 'multi-stale'], env)
  t.equal(start.code, 0, start.stdout + start.stderr)
  const node = started(`${dir}/m3.pid`)
  t.not(node, pid)
  t.same(start.stdout, `> Starting nodes...\n\t> m3@${host}: ${stale}: removed\n\t> m3@${host}: OK (pid ${node})\n`)
  t.equal(await (await f.add.applyAsync([2, 3], { queue: 'multi-stale' })).get({ timeout: 20 }), 5, 'the node serves')
  const again = await celeriac(['multi', 'start', 'm3', ...files, '-A', fixture, '-c', '1', '-Q', 'multi-stale'], env)
  t.same([again.code, again.stdout], [0, `> Starting nodes...\n\t> m3@${host}: already running (pid ${node})\n`], 'the node itself is recognised')
  const stopwait = await celeriac(['multi', 'stopwait', 'm3', ...files], env)
  t.same([stopwait.code, stopwait.stdout], [0, `> Stopping nodes and waiting for them to exit...\n\t> m3@${host}: TERM -> ${node}\n\t> m3@${host}: DOWN\n`])
  t.ok(isAlive(pid), 'the other process still lives')
})

t.test('multi - stop with another --pidfile than start says which pidfile it did not find (audit 3)', async (t) => {
  const dir = tempDir(t)
  const files = ['--pidfile', `${dir}/%n.pid`, '--logfile', `${dir}/%n%I.log`]
  const start = await celeriac(['multi', 'start', 'm4', ...files, '-A', fixture, '-c', '1', '-Q', 'multi-elsewhere'], env)
  t.equal(start.code, 0, start.stdout + start.stderr)
  const node = started(`${dir}/m4.pid`)
  const elsewhere = await celeriac(['multi', 'stop', 'm4', '--pidfile', `${dir}/run/%n.pid`], env)
  t.same([elsewhere.code, elsewhere.stdout], [0, `> Stopping nodes...\n\t> m4@${host}: no pidfile ${dir}/run/m4.pid: not running, or started with another --pidfile (give stop the same --pidfile as start)\n`])
  t.ok(isAlive(node), 'the node runs on')
  const stop = await celeriac(['multi', 'stopwait', 'm4', ...files], env)
  t.equal(stop.code, 0, stop.stderr)
  await until(() => isAlive(node), (up) => !up, 'the node to exit')
})
