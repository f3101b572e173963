import t from 'tap'
import { fileURLToPath } from 'node:url'
import { celeriac, startCeleriac } from '../helpers/cli.js'

const fixture = fileURLToPath(new URL('../fixtures/app.ts', import.meta.url))

t.test('cli - worker prints its banner, serves, and stops warm on SIGTERM with exit code 0', async (t) => {
  const worker = startCeleriac(['worker', '-A', fixture, '-c', '1', '-n', 'cli@%h', '-Q', 'celery,other'])
  await worker.waitFor(/ ready\.\n/)
  const output = worker.output()
  t.match(output, /^celeriac v\d+\.\d+\.\d+ \(cli@\S+\)$/m)
  t.match(output, /\.> app: +fixture/)
  t.match(output, /\.> transport: +memory:\/\/fixture/)
  t.match(output, /\.> concurrency: 1 \(threads\)/)
  t.match(output, /\.> task events: OFF \(enable -E to monitor tasks in this worker\)/)
  t.match(output, /\.> other +exchange=\(default\) key=other/)
  t.match(output, /\n {2}\. t\.add\n/)
  // memory:// is allowed for a worker (one process may send and run), and said.
  await worker.waitFor(/the broker is memory:\/\/fixture, which lives in this process: no other process can send this worker tasks/)
  t.equal(await worker.stop('SIGTERM'), 0)
  t.match(worker.output(), /SIGTERM: warm shutdown/)
  t.match(worker.output(), /cli@\S+ offline\.\n/)
})

t.test('cli - usage errors exit with code 2 and say what is wrong', async (t) => {
  const runs = await Promise.all([
    celeriac(['worker']),
    celeriac(['frobnicate']),
    celeriac(['worker', '-A', fixture, '-c', 'many']),
    celeriac(['worker', '-A', fixture, '-l', 'loud']),
    celeriac(['worker', '-A', fixture, '--bogus']),
    celeriac(['inspect', 'everything']),
    celeriac(['control', 'rate_limit', 't.add']),
    celeriac(['call']),
    celeriac(['multi', 'begin']),
  ])
  t.same(runs.map((r) => r.code), [2, 2, 2, 2, 2, 2, 2, 2, 2])
  t.match(runs[0].stderr, 'worker: -A/--app <module> is required')
  t.match(runs[1].stderr, 'unknown command "frobnicate"')
  t.match(runs[2].stderr, '--concurrency must be a positive integer, got "many"')
  t.match(runs[3].stderr, '--loglevel must be one of debug, info, warning, error, critical, got "loud"')
  t.match(runs[4].stderr, "Unknown option '--bogus'")
  t.match(runs[5].stderr, 'inspect: expected one of active, scheduled, reserved, registered, stats, revoked, conf, ping, active_queues, got everything')
  t.match(runs[6].stderr, 'control rate_limit: expected <task> <rate>  e.g. tasks.add 10/m, got t.add')
  t.match(runs[7].stderr, 'call: expected one task name, got none')
  t.match(runs[8].stderr, 'multi: expected one of start, stop, stopwait, restart, kill, show, names, got begin')
})

t.test('cli - every command has --help (exit 0); no command prints the overview (exit 2)', async (t) => {
  const commands = ['worker', 'call', 'result', 'purge', 'status', 'inspect', 'control', 'events', 'multi']
  const runs = await Promise.all([...commands.map((c) => celeriac([c, '--help'])), celeriac([])])
  commands.forEach((command, i) => {
    t.equal(runs[i].code, 0, `${command} --help`)
    t.match(runs[i].stdout, new RegExp(`^Usage: celeriac ${command} `), `${command} --help prints its usage`)
  })
  t.equal(runs[commands.length].code, 2)
  t.match(runs[commands.length].stdout, /^Usage: celeriac \[-A <module>\] <command>/)
})

t.test('cli - a typo in the configuration is a usage error naming it (exit 2)', async (t) => {
  const [env, value, noApp] = await Promise.all([
    celeriac(['status', '-A', fixture], { CELERIAC_TASK_ACKS_LAET: 'true' }),
    celeriac(['status', '-A', fixture], { CELERIAC_WORKER_CONCURRENCY: 'lots' }),
    celeriac(['worker', '-A', fileURLToPath(new URL('../helpers/files.ts', import.meta.url))]),
  ])
  t.same([env.code, env.stderr], [2, 'celeriac: unknown environment variable CELERIAC_TASK_ACKS_LAET (did you mean CELERIAC_TASK_ACKS_LATE?)\n'])
  // CLI audit: the error named the config key, not the variable the value came from.
  t.same([value.code, value.stderr], [2, 'celeriac: CELERIAC_WORKER_CONCURRENCY: config.workerConcurrency must be a positive integer, got "lots"\n'])
  t.equal(noApp.code, 2)
  t.match(noApp.stderr, /exports no celeriac app/)
})

t.test('cli - Celery order: -A before the command works too; --version', async (t) => {
  const [status, version] = await Promise.all([celeriac(['-A', fixture, 'status', '-t', '0.2']), celeriac(['--version'])])
  // The app (read through -A before the command) is on memory://: nobody could answer.
  t.equal(status.code, 2)
  t.match(status.stderr, /^celeriac: status: the broker is memory:\/\/fixture, which lives inside this one process: /)
  t.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
})
