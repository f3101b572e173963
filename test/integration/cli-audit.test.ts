import t, { type Test } from 'tap'
import { connect, createServer, type Socket } from 'node:net'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { isAlive } from '../../src/cli/worker.js'
import { celeriac, startCeleriac } from '../helpers/cli.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { until } from '../helpers/until.js'

// What an outside new-user audit of the command line met, as the user meets it: the CLI in its
// own process, its exit code and its message.

t.setTimeout(180_000)

const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))

let server: NatsServer
t.before(async () => {
  server = await startNatsServer()
})
t.teardown(async () => {
  await (await started)?.stop('SIGKILL')
  await server?.cleanup()
})

const natsApp = fileURLToPath(new URL('../fixtures/nats-app.ts', import.meta.url))
const slowThreadApp = fileURLToPath(new URL('../fixtures/slow-thread-app.ts', import.meta.url))
let started: Promise<WorkerProcess> | undefined
/** One worker process of a .ts app on NATS (`-c 1 --tasks-per-thread 3 --lookahead 0`), started by the first test that needs it. */
function natsWorker(): Promise<WorkerProcess> {
  started ??= startWorkerProcess({ app: natsApp, hostname: 'audit@%h', args: ['-c', '1', '--tasks-per-thread', '3', '--lookahead', '0', '-Q', 'audit'], env: { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: 'nats://' } })
  return started
}

/** A TCP server that accepts connections and never says a word (not NATS); its port. */
async function silentServer(t: Test): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return (server.address() as { port: number }).port
}

/** The exit code of `child`, or 'still running' after `ms`. */
function exitWithin(child: import('node:child_process').ChildProcess, ms: number): Promise<number | null | 'still running'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), ms)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

t.test('audit - a broker URL that is not NATS: the error is printed and the command exits (1)', async (t) => {
  const port = await silentServer(t)
  const run = startCeleriac(['call', 'tasks.add', '--args', '[1,2]', '-b', `nats://127.0.0.1:${port}`])
  t.teardown(() => run.stop('SIGKILL'))
  // nats.js gives up after its own connect timeout (20 s), then leaves its socket open.
  await run.waitFor(/celeriac: cannot connect to NATS/, 60_000)
  t.equal(await exitWithin(run.child, 5_000), 1, 'exits soon after the error')
  t.match(run.output(), new RegExp(`^celeriac: cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}: `))
})

/** Whether `pid` still runs (a zombie its new parent has yet to reap has ended). */
const running = (pid: number) => isAlive(pid) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))

for (const [command, args, ready] of [
  ['events', ['--dump'], /dumping all events/],
  ['dashboard', ['--port', '0'], /celeriac dashboard: http:\/\//],
] as const) {
  for (const when of ['once it runs', 'while it starts'] as const) {
    t.test(`audit - kill of the npx that started \`celeriac ${command}\` ends ${command} too, ${when}`, async (t) => {
      // While it starts: its connection to NATS goes through a gate that holds it until npx is
      // gone, so the kill lands after the CLI has loaded and before it is ready.
      const gate = when === 'while it starts' ? await natsGate(t, server) : undefined
      // npx runs the command through a shell it starts, and a TERM to npm's pid dies there: the
      // shell below stands for it, and npm_lifecycle_event says "under npm" as npx's does.
      const shell = spawn('sh', ['-c', `"${process.execPath}" "${bin}" ${command} ${args.join(' ')} -b ${gate?.url ?? server.url} & echo "pid=$!"; wait`], {
        env: { ...process.env, npm_lifecycle_event: 'npx' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      shell.stdout.on('data', (chunk: Buffer) => (output += chunk))
      shell.stderr.on('data', (chunk: Buffer) => (output += chunk))
      if (gate) await gate.knocked
      else await until(() => output, (text) => ready.test(text), `${command} to start`, 30_000)
      const pid = Number(/pid=(\d+)/.exec(output)?.[1])
      t.teardown(() => {
        if (running(pid)) process.kill(pid, 'SIGKILL')
      })
      shell.kill('SIGKILL')
      await until(() => running(shell.pid!), (alive) => !alive, 'the shell to die')
      gate?.open()
      // Its parent watch, then its shutdown (the HTTP server, the NATS connection): seconds on a loaded machine.
      await until(() => running(pid), (alive) => !alive, `${command} (pid ${pid}) to exit`, 20_000).catch((error: Error) => {
        throw new Error(`${error.message}; it printed:\n${output}`)
      })
      t.match(output, ready, 'it started')
      t.match(output, new RegExp(`celeriac ${command}: parent process \\d+ exited \\(npm does not pass its signals on\\): stopping`))
    })
  }
}

/**
 * A TCP gate in front of `server`: `knocked` resolves at the first connection, which waits
 * there until `open()` joins it to the server.
 */
async function natsGate(t: Test, target: NatsServer): Promise<{ url: string; knocked: Promise<void>; open(): void }> {
  const held: Socket[] = []
  let knock = () => {}
  const knocked = new Promise<void>((resolve) => (knock = resolve))
  let opened = false
  const join = (socket: Socket) => {
    const upstream = connect(Number(new URL(target.url).port), '127.0.0.1')
    socket.pipe(upstream).pipe(socket)
    for (const end of [socket, upstream]) end.on('error', () => socket.destroy())
  }
  const gate = createServer((socket) => {
    if (opened) return join(socket)
    held.push(socket)
    knock()
  })
  await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of held) socket.destroy()
    gate.close()
  })
  return {
    url: `nats://127.0.0.1:${(gate.address() as { port: number }).port}`,
    knocked,
    open() {
      opened = true
      for (const socket of held.splice(0)) join(socket)
    },
  }
}

t.test('audit - control pool_grow answers within the default second, saying what the pool grows to', async (t) => {
  const worker = await startWorkerProcess({ app: slowThreadApp, hostname: 'grow@%h', args: ['-c', '1', '-Q', 'grow'], env: { CELERIAC_BROKER_URL: server.url } })
  t.teardown(() => worker.stop('SIGKILL'))
  const hostname = /\((grow@[^)]+)\)/.exec(worker.output())![1]
  // Its threads take 1.5 s to start: the reply does not wait for them.
  const grow = await celeriac(['control', 'pool_grow', '2', '-d', hostname, '-b', server.url])
  t.same([grow.code, grow.stdout, grow.stderr], [0, `->  ${hostname}: OK\n        pool will grow to 3 threads\n`, ''])
  const stats = await celeriac(['inspect', 'stats', '-d', hostname, '-j', '-b', server.url])
  t.equal(JSON.parse(stats.stdout)[hostname].pool.threads, 3)
  const shrink = await celeriac(['control', 'pool_shrink', '2', '-d', hostname, '-b', server.url])
  t.same([shrink.code, shrink.stdout], [0, `->  ${hostname}: OK\n        pool shrunk to 1 thread\n`])
})

t.test('audit - a malformed or unknown broker URL, a bad rate, an -A without an app, a bad CELERIAC_* value: usage errors (exit 2)', async (t) => {
  const files = fileURLToPath(new URL('../helpers/files.ts', import.meta.url))
  const runs = await Promise.all([
    celeriac(['call', 'tasks.add', '-b', 'nats:/127.0.0.1:4717']),
    celeriac(['call', 'tasks.add', '-b', '127.0.0.1:4717']),
    celeriac(['call', 'tasks.add', '-b', 'redis://127.0.0.1:6379']),
    celeriac(['call', 'tasks.add', '-b', server.url, '--result-backend', 'redis://127.0.0.1:6379']),
    celeriac(['control', 'rate_limit', 'tasks.add', '10/x', '-b', server.url]),
    celeriac(['call', 'tasks.add', '-A', files, '-b', server.url]),
    celeriac(['call', 'tasks.add', '-b', server.url], { CELERIAC_TASK_ACKS_LATE: 'maybe' }),
  ])
  t.same(runs.map((run) => [run.code, run.stderr]), [
    [2, 'celeriac: config.broker must be a URL such as memory:// or nats://host:4222, got "nats:/127.0.0.1:4717"\n'],
    [2, 'celeriac: config.broker must be a URL such as memory:// or nats://host:4222, got "127.0.0.1:4717"\n'],
    [2, 'celeriac: config.broker: unsupported scheme in redis://127.0.0.1:6379 (supported: memory://, nats://, tls://)\n'],
    [2, 'celeriac: config.backend: unsupported scheme in redis://127.0.0.1:6379 (supported: memory://, nats://, tls://, rpc://)\n'],
    [2, `celeriac: control rate_limit: "10/x" is not a rate: give tasks per second (10) or a rate like '10/s', '10/m' or '10/h'\n`],
    [2, `celeriac: module ${files} exports no celeriac app (export one as "app")\n`],
    [2, 'celeriac: CELERIAC_TASK_ACKS_LATE must be true or false, got "maybe"\n'],
  ])
})

t.test('audit - a worker started before its broker waits for it, as Celery\'s does, and serves once it is up', async (t) => {
  // A port nothing listens on yet.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
  const env = { CELERIAC_BROKER_URL: `nats://127.0.0.1:${port}`, CELERIAC_RESULT_BACKEND: 'nats://' }
  const worker = startCeleriac(['worker', '-A', natsApp, '-n', 'early@%h', '-c', '1', '-Q', 'early'], env)
  t.teardown(() => worker.stop('SIGKILL'))
  await worker.waitFor(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*\. Trying again in 2\.00 seconds\.\.\. \(1\/100\)/)
  const late = await startNatsServer({ port })
  t.teardown(() => late.cleanup())
  await worker.waitFor(/\[tasks\]/, 30_000)
  const { createApp } = await import('../../src/index.js')
  const client = createApp({ name: 'natsfix', broker: late.url, backend: 'nats://' })
  t.teardown(() => client.close())
  t.equal(await (await client.sendTask('n.add', [1, 2], { queue: 'early' })).get({ timeout: 20 }), 3)
})

t.test('audit - a server that is down stays a runtime failure (exit 1)', async (t) => {
  const down = await celeriac(['call', 'tasks.add', '-b', 'nats://127.0.0.1:1'])
  t.equal(down.code, 1)
  t.match(down.stderr, /^celeriac: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1\b/)
})

t.test('audit - -A module:name (Celery\'s -A proj:app) picks that export; Windows paths and file: URLs still work', async (t) => {
  const fixtures = fileURLToPath(new URL('../fixtures', import.meta.url))
  const inFixtures = (args: string[]) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: fixtures, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    child.once('close', (code) => resolve({ code, stderr }))
  })
  // Each app that loads is on memory://, so `call` refuses it naming its broker: that names the app found.
  const loaded = (broker: string) => new RegExp(`^celeriac: call: the broker is memory://${broker}, which lives inside this one process`)
  const [celery, second, absolute, url, urlNamed, both, notApp, missing, windows] = await Promise.all([
    inFixtures(['call', 't.add', '-A', 'app:app']),
    inFixtures(['call', 't.add', '-A', 'two-apps:second']),
    inFixtures(['call', 't.add', '-A', `${fixtures}/two-apps.ts:first`]),
    inFixtures(['call', 't.add', '-A', `file://${fixtures}/app.ts`]),
    inFixtures(['call', 't.add', '-A', `file://${fixtures}/two-apps.ts:second`]),
    inFixtures(['call', 't.add', '-A', 'two-apps']),
    inFixtures(['call', 't.add', '-A', 'two-apps:notAnApp']),
    inFixtures(['call', 't.add', '-A', 'two-apps:third']),
    inFixtures(['call', 't.add', '-A', 'C:\\nowhere\\app.ts']),
  ])
  t.same([celery.code, loaded('fixture').test(celery.stderr)], [2, true], celery.stderr)
  t.same([second.code, loaded('second').test(second.stderr)], [2, true], second.stderr)
  t.same([absolute.code, loaded('first').test(absolute.stderr)], [2, true], absolute.stderr)
  t.same([url.code, loaded('fixture').test(url.stderr)], [2, true], url.stderr)
  t.same([urlNamed.code, loaded('second').test(urlNamed.stderr)], [2, true], urlNamed.stderr)
  t.same([both.code, both.stderr], [2, 'celeriac: module two-apps exports 2 apps: name the one to use, e.g. -A two-apps:first\n'])
  t.same([notApp.code, notApp.stderr], [2, 'celeriac: -A two-apps:notAnApp: export "notAnApp" of module two-apps is not a celeriac app (its apps are "first", "second")\n'])
  t.same([missing.code, missing.stderr], [2, 'celeriac: -A two-apps:third: module two-apps has no export "third" (its apps are "first", "second")\n'])
  // A drive letter's colon is part of the path, not an export name.
  t.same([windows.code, windows.stderr], [2, `celeriac: -A C:\\nowhere\\app.ts: no such app module; tried ${fixtures}/C:\\nowhere\\app.ts, ${fixtures}/C:\\nowhere\\app.js\n`])
})

t.test('audit - did you mean: inspect and control typos, Celery\'s inspect names, impossible event patterns (exit 2)', async (t) => {
  const worker = await natsWorker()
  const hostname = /\((audit@[^)]+)\)/.exec(worker.output())![1]
  const [typo, queues, queryTask, control, queryTaskId, autoscale] = await Promise.all([
    celeriac(['inspect', 'actve', '-b', server.url]),
    celeriac(['inspect', 'active_queues', '-d', hostname, '-b', server.url]),
    celeriac(['inspect', 'query_task', '-b', server.url]),
    celeriac(['control', 'rate_limt', 'n.add', '10/m', '-b', server.url]),
    celeriac(['inspect', 'query_task', '1234', '-b', server.url]),
    celeriac(['control', 'autoscale', '4', '2', '-b', server.url]),
  ])
  // As Celery users type them, with their arguments.
  t.match([queryTaskId.code, queryTaskId.stderr], [2, /got query_task 1234 \(celeriac result <id> prints a task's state and result\)\n$/])
  t.match([autoscale.code, autoscale.stderr], [2, /got autoscale \(celeriac has no autoscaler: pool_grow and pool_shrink change a node's threads\)\n$/])
  const methods = 'active, scheduled, reserved, registered, stats, revoked, conf, ping, active_queues'
  t.same([typo.code, typo.stderr], [2, `celeriac: inspect: expected one of ${methods}, got actve (did you mean active?)\n`])
  t.same([queues.code, queues.stdout], [0, `->  ${hostname}: OK\n        * audit\n`], queues.stderr)
  t.same([queryTask.code, queryTask.stderr], [2, `celeriac: inspect: expected one of ${methods}, got query_task (celeriac result <id> prints a task's state and result)\n`])
  t.equal(control.code, 2)
  t.match(control.stderr, /^celeriac: control: expected one of rate_limit, .*, got rate_limt \(did you mean rate_limit\?\)\n$/)
  // A pattern no event matches printed nothing, forever.
  const events = startCeleriac(['events', '-p', 'task-faild', '-b', server.url])
  t.teardown(() => events.stop('SIGKILL'))
  t.equal(await exitWithin(events.child, 10_000), 2)
  t.match(events.output(), /^celeriac: events: no event matches -p task-faild \(did you mean task-failed\?\); the events are task-sent, task-received, /)
  const fine = await Promise.all(['task-*', '*-failed', 'worker-online', '*'].map((pattern) => {
    const run = startCeleriac(['events', '-p', pattern, '-b', server.url])
    return run.waitFor(/dumping/).then(() => run.stop())
  }))
  t.same(fine, [0, 0, 0, 0], 'task-*, *-failed, worker-online and * are accepted')
})

t.test('audit - a worker on NATS whose result backend is memory:// says so, once', async (t) => {
  const app = fileURLToPath(new URL('../fixtures/broker-only-app.ts', import.meta.url))
  const worker = await startWorkerProcess({ app, hostname: 'results@%h', args: ['-c', '1', '-Q', 'results'], env: { CELERIAC_BROKER_URL: server.url } })
  t.teardown(() => worker.stop('SIGKILL'))
  const warning = /the result backend is memory:\/\/ \(the default: none is configured\), which lives in this process: the results of this worker's tasks are stored where no other process can read them \(name a shared one with --result-backend nats:\/\/, CELERIAC_RESULT_BACKEND, or the app's config\)/g
  await until(() => worker.output(), (output) => output.includes('the result backend is'), 'the warning', 5_000)
  t.equal(worker.output().match(warning)?.length, 1, 'warned once')
  t.match(worker.output(), /"level":"warn"/)
})

t.test('audit - a missing module in the app\'s include list is named as written there, with the app', async (t) => {
  const fixtures = fileURLToPath(new URL('../fixtures', import.meta.url))
  const run = await celeriac(['worker', '-A', `${fixtures}/missing-include-app.ts`])
  t.equal(run.code, 2, 'a configuration mistake, as the README says')
  t.match(run.stderr, `\nceleriac: app missinginclude: its include list names "./no-such-tasks.js", and there is no such module: ${fixtures}/no-such-tasks.js (entries resolve against the app's module, ${fixtures}/missing-include-app.ts)\n`)
})

t.test('audit - inspect conf shows what the node runs with: its -c, --tasks-per-thread, --lookahead', async (t) => {
  const worker = await natsWorker()
  const hostname = /\((audit@[^)]+)\)/.exec(worker.output())![1]
  const run = await celeriac(['inspect', 'conf', '-d', hostname, '-j', '-b', server.url])
  t.equal(run.code, 0, run.stderr)
  t.match(JSON.parse(run.stdout)[hostname], { workerConcurrency: 1, workerTasksPerThread: 3, workerLookahead: '0ms', workerSendTaskEvents: false, workerShutdownTimeout: 30 })
})

t.test('audit - HUP stops a worker warm (it used to die at once, leaving its running tasks PENDING); USR1 logs its state, no inspector', async (t) => {
  const app = fileURLToPath(new URL('../fixtures/app.ts', import.meta.url))
  // Started with a clean environment, as a process manager starts it: under tap's coverage, the
  // instrumented child opened the inspector on USR1 whatever the worker did (not so outside tap).
  const shell = spawn('sh', ['-c', `exec env -i PATH="$PATH" HOME="$HOME" "${process.execPath}" "${bin}" worker -A "${app}" -n hup${process.pid}@%h -c 1`], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => void shell.kill('SIGKILL'))
  let output = ''
  shell.stdout.on('data', (chunk: Buffer) => (output += chunk))
  shell.stderr.on('data', (chunk: Buffer) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => shell.once('exit', (code) => resolve(code)))
  const printed = (what: string, pattern: RegExp) => until(() => output, (text) => pattern.test(text), what, 30_000).catch((error: Error) => {
    throw new Error(`${error.message}; it printed:\n${output}`)
  })
  await printed('the worker to start', / ready\.$/m)
  shell.kill('SIGUSR1')
  await printed('the USR1 line', /SIGUSR1: /)
  t.match(output, /SIGUSR1: hup\d+@\S+ is running, 0 tasks on it, 0 done \(Node's inspector stays closed/)
  t.notMatch(output, /Debugger listening/, 'no inspector opened')
  shell.kill('SIGHUP')
  t.equal(await exited, 0, 'a clean exit')
  t.match(output, /SIGHUP \(restart it with your process manager\): warm shutdown/)
  t.match(output, /offline\.$/m)
})
