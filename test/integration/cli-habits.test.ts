import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdirSync, writeFileSync } from 'node:fs'
import { celeriac, startCeleriac, type CliRun } from '../helpers/cli.js'
import { tempDir } from '../helpers/files.js'

// The habits a Celery or Node user brings to the command line.
const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))
const fixtures = fileURLToPath(new URL('../fixtures', import.meta.url))
const beatApp = `${fixtures}/beat-memory-app.ts`

/** `celeriac <args>` run from `cwd`, as a user in that folder types it. */
function celeriacIn(cwd: string, args: string[]): Promise<CliRun> {
  const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })))
}

const loaded = (url: string) => new RegExp(`^celeriac: call: the broker is ${url}, which lives inside this one process`)

t.test('habits - beat reads -b and CELERIAC_* like every command; -l takes warning and warn', async (t) => {
  const dir = tempDir(t)
  const env = { BEAT_SCHEDULE_FILE: `${dir}/schedule.json` }
  const fromFlag = startCeleriac(['beat', '-A', beatApp, '-b', 'memory://elsewhere', '-l', 'warn'], env)
  await fromFlag.waitFor(/the broker is memory:\/\/elsewhere, which lives in this process: no worker elsewhere gets these tasks/)
  t.match(fromFlag.output(), /- transport: memory:\/\/elsewhere\n/)
  t.equal(await fromFlag.stop('SIGTERM'), 0)
  const fromEnv = startCeleriac(['beat', '-A', beatApp, '-l', 'WARNING'], { ...env, CELERIAC_BROKER_URL: 'memory://from-env' })
  await fromEnv.waitFor(/- transport: memory:\/\/from-env\n/)
  t.equal(await fromEnv.stop('SIGTERM'), 0)
  const typo = await celeriac(['beat', '-A', beatApp], { ...env, CELERIAC_BEAT_MAX_INTERVL: '5' })
  t.same([typo.code, typo.stderr], [2, 'celeriac: unknown environment variable CELERIAC_BEAT_MAX_INTERVL (did you mean CELERIAC_BEAT_MAX_INTERVAL?)\n'])
})

t.test('habits - -A resolves as Node users expect; a wrong -A says what was tried (exit 2)', async (t) => {
  // Only app.ts exists in the fixtures: -A app.js, -A ./app and -A app all find it.
  const [js, relative, bare, missing, missingBare, broken] = await Promise.all([
    celeriacIn(fixtures, ['call', 't.add', '-A', 'app.js']),
    celeriacIn(fixtures, ['call', 't.add', '-A', './app']),
    celeriacIn(fixtures, ['call', 't.add', '-A', 'app']),
    celeriacIn(fixtures, ['call', 't.add', '-A', 'nope.js']),
    celeriacIn(fixtures, ['call', 't.add', '-A', 'nope']),
    celeriacIn(fixtures, ['call', 't.add', '-A', 'throws-on-import.ts']),
  ])
  for (const run of [js, relative, bare]) t.same([run.code, loaded('memory://fixture').test(run.stderr)], [2, true], run.stderr)
  t.same([missing.code, missing.stderr], [2, `celeriac: -A nope.js: no such app module; tried ${fixtures}/nope.js, ${fixtures}/nope.ts\n`])
  t.same([missingBare.code, missingBare.stderr], [2, `celeriac: -A nope: no such app module; tried ${fixtures}/nope, ${fixtures}/nope.ts, ${fixtures}/nope.js, ${fixtures}/nope/index.ts, ${fixtures}/nope/index.js and the package "nope"\n`])
  t.same([broken.code, broken.stderr], [1, 'celeriac: cannot import app module throws-on-import.ts: throws-on-import: this module cannot be imported\n'], 'a module that exists but throws is not a usage error')
})

t.test('habits - unknown commands and options get "did you mean" (exit 2)', async (t) => {
  const [command, option, far, empty, broken] = await Promise.all([
    celeriac(['wokrer']),
    celeriac(['call', 'x', '--kwarg', '{}']),
    celeriac(['worker', '--bogus']),
    celeriac(['call', 'x', '--queue', '']),
    celeriac(['call', 'x', '--args', '[1,']),
  ])
  t.match([broken.code, broken.stderr], [2, /^celeriac: --args is not JSON \(.+\): "\[1,"; give an array in JSON, quoted for the shell, e.g. '\[2, 3\]'\n$/])
  t.same([empty.code, empty.stderr], [2, 'celeriac: --queue must name one, got an empty string\n'])
  t.equal(command.code, 2)
  t.match(command.stderr, /^celeriac: unknown command "wokrer" \(did you mean worker\?\)\n/)
  t.same([option.code, option.stderr], [2, "celeriac: call: Unknown option '--kwarg' (did you mean --kwargs?); `celeriac call --help` lists its options\n"])
  t.same([far.code, far.stderr], [2, "celeriac: worker: Unknown option '--bogus'; `celeriac worker --help` lists its options\n"])
})

t.test('habits - a Celery worker option celeriac lacks says what does its job here (exit 2)', async (t) => {
  const [autoscale, detach, prefetch] = await Promise.all([
    celeriac(['worker', '--autoscale', '4,1']),
    celeriac(['worker', '-D']),
    celeriac(['worker', '--prefetch-multiplier=8']),
  ])
  t.same([autoscale.code, autoscale.stderr], [2, "celeriac: worker: --autoscale is Celery's, celeriac has no such option: `celeriac control pool_grow` / `pool_shrink` change a running node's threads\n"])
  t.same([detach.code, detach.stderr], [2, "celeriac: worker: -D is Celery's, celeriac has no such option: `celeriac multi start` runs nodes in the background\n"])
  t.match(prefetch.stderr, /--prefetch-multiplier is Celery's, celeriac has no such option: --tasks-per-thread/)
})

t.test('habits - every --help aligns its option descriptions on one column', async (t) => {
  const commands = ['worker', 'call', 'result', 'purge', 'status', 'inspect', 'control', 'events', 'multi', 'beat']
  const runs = await Promise.all(commands.map((c) => celeriac([c, '--help'])))
  commands.forEach((command, i) => {
    const columns = new Set(runs[i].stdout.split('\n').map((line) => /^ {2}(?:-\w, | {4})--[\w-]+(?: <[^>]+>)? +/.exec(line)?.[0].length).filter((n) => n !== undefined))
    t.equal(columns.size, 1, `${command}: one column (${[...columns].join(', ')})`)
  })
})

t.test('habits - mistakes an operator makes on the command line are usage errors that name the flag (CLI audit)', async (t) => {
  const dir = tempDir(t)
  const app = `${fixtures}/nats-app.ts`
  const started = performance.now()
  // A log folder that cannot be made: pino retried it for ever, at full CPU, without a word.
  const [logfile, pidfile, timeout, queues] = await Promise.all([
    celeriac(['worker', '-A', app, '--logfile', '/proc/no-such-dir/w.log', '-b', 'nats://127.0.0.1:9']),
    celeriac(['worker', '-A', app, '--pidfile', '/proc/no-such-dir/w.pid', '-b', 'nats://127.0.0.1:9']),
    celeriac(['inspect', 'stats', '-t', '0', '-b', 'nats://127.0.0.1:9']),
    celeriac(['worker', '-A', app, '-Q', ',', '-b', 'nats://127.0.0.1:9']),
  ])
  t.same([logfile.code, logfile.stderr.split('\n').at(-2)], [2, 'celeriac: cannot open --logfile /proc/no-such-dir/w.log: ENOENT'])
  t.same([pidfile.code, pidfile.stderr.split('\n').at(-2)], [2, 'celeriac: cannot write --pidfile /proc/no-such-dir/w.pid: ENOENT'])
  t.same([timeout.code, timeout.stderr], [2, 'celeriac: --timeout must be more than 0 seconds, got "0"\n'])
  t.same([queues.code, queues.stderr.split('\n').at(-2)], [2, 'celeriac: -Q/--queues must name at least one queue, got ","'])
  t.ok(performance.now() - started < 30_000, 'each ends, and soon')

  // A TypeScript app in a folder with no package.json (no "type": "module"): Node's own
  // "__filename is not defined in ES module scope" was all it said.
  const bare = `${dir}/bare`
  mkdirSync(bare)
  writeFileSync(`${bare}/app.ts`, `import { createApp } from ${JSON.stringify(fileURLToPath(new URL('../../src/index.ts', import.meta.url)))}\nexport const app = createApp({ name: 'bare' })\nexport const add = app.task('bare.add', (x: number, y: number) => x + y)\n`)
  const esm = await celeriacIn(bare, ['status', '-A', 'app.ts', '-b', 'nats://127.0.0.1:9'])
  t.equal(esm.code, 2)
  t.match(esm.stderr, /^celeriac: cannot import app module app\.ts: .*celeriac apps are ES modules: add "type": "module" to the package\.json of your project/)
})
