import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import { until } from '../helpers/until.js'
import { tempDir } from '../helpers/files.js'

// Every line a CLI worker logs goes through its one logger: `-l` drops what is below it and
// `--log-format json` makes every stderr line a JSON object, a worker thread's included (it
// used to write to the console itself; the NATS transport had a console logger of its own too).
const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

/** A `celeriac worker` whose stdout and stderr are kept apart; `until` resolves once stderr matches. */
function startWorker(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, 'worker', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiting = new Set<() => void>()
  const on = (append: (chunk: string) => void) => (chunk: Buffer) => {
    append(String(chunk))
    for (const check of waiting) check()
  }
  child.stdout.on('data', on((chunk) => (stdout += chunk)))
  child.stderr.on('data', on((chunk) => (stderr += chunk)))
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
  const until = (stream: () => string, pattern: RegExp) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in 20 s:\n${stdout}\n${stderr}`)), 20_000)
    const check = () => {
      if (!pattern.test(stream())) return
      waiting.delete(check)
      clearTimeout(timer)
      resolve()
    }
    waiting.add(check)
    void exited.then(() => check())
    check()
  })
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    ready: () => until(() => stdout, / ready\.$/m),
    logged: (pattern: RegExp) => until(() => stderr, pattern),
    stop: () => (child.kill('SIGTERM'), exited),
  }
}

t.test('--loglevel error: a worker on memory:// prints no warning line; warning prints the one it has', async (t) => {
  const quiet = startWorker(['-A', fixture('app.ts'), '-n', `quiet${process.pid}@%h`, '--loglevel', 'error', '--log-format', 'pretty'])
  const told = startWorker(['-A', fixture('app.ts'), '-n', `told${process.pid}@%h`, '--loglevel', 'warning', '--log-format', 'pretty'])
  await Promise.all([quiet.ready(), told.logged(/WARN the broker is memory:\/\/\S*, which lives in this process/)])
  // The warning is written right after the banner, in the same turn: by `ready` it would be there.
  t.equal(await quiet.stop(), 0)
  t.equal(await told.stop(), 0)
  t.equal(quiet.stderr(), '', 'no line on stderr at all')
  t.notMatch(told.stderr(), /\x1b\[/, 'pretty lines without colours when stderr is not a terminal')
})

t.test('--log-format json: every stderr line is JSON, a worker thread\'s lines included', async (t) => {
  const dir = tempDir(t)
  const worker = startWorker(['-A', fixture('logging-app.ts'), '-n', `json${process.pid}@%h`, '-c', '1', '-B', '--loglevel', 'info', '--log-format', 'json'], { BEAT_SCHEDULE_FILE: join(dir, 'schedule.json') })
  await worker.ready()
  // The task's success handler throws in its worker thread, which has no logger of its own.
  await worker.logged(/handler of log\.tick\[/)
  t.equal(await worker.stop(), 0)

  const lines = worker.stderr().split('\n').filter(Boolean)
  const parsed = lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>
    } catch {
      return line
    }
  })
  t.same(parsed.filter((line) => typeof line === 'string'), [], 'no line that is not JSON')
  t.match(parsed, [{ level: 'info', msg: 'worker ready' }], 'the node\'s own lines')
  const handler = parsed.find((line) => typeof line === 'object' && /^handler of log\.tick\[/.test(String(line.msg)))
  t.match(handler, { level: 'error', pid: Number, error: { type: 'Error', message: 'the handler broke' } }, 'the thread\'s line, as JSON, with its error')
})

t.test('a task\'s ctx.logger writes through the worker\'s -l, --log-format and --logfile; a failed task is an error line', async (t) => {
  const dir = tempDir(t)
  const logfile = join(dir, 'worker.log')
  const worker = startWorker(['-A', fixture('logging-app.ts'), '-n', `file${process.pid}@%h`, '-c', '1', '-B', '--loglevel', 'info', '--log-format', 'json', '--logfile', logfile], { BEAT_SCHEDULE_FILE: join(dir, 'schedule.json'), LOG_TASKS: '1' })
  await worker.ready()
  const lines = () => (existsSync(logfile) ? readFileSync(logfile, 'utf8') : '').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
  await until(lines, (logged) => logged.some((line) => /^task log\.boom\[\S+\] raised/.test(String(line.msg))) && logged.some((line) => line.msg === 'talking'), 'both lines in the log file')
  t.equal(await worker.stop(), 0)
  const logged = lines()
  t.match(logged.find((line) => line.msg === 'talking'), { level: 'info', loud: false, id: String, task: 'log.talk' }, 'the thread\'s info line, in the file, as JSON, with the task')
  t.notOk(logged.some((line) => line.msg === 'whispering'), 'below -l info: dropped')
  t.match(logged.find((line) => /^task log\.boom\[\S+\] raised/.test(String(line.msg))), { level: 'error', msg: /^task log\.boom\[\S+\] raised Error: kaboom after \d+\.\d{3} s$/, traceback: /kaboom/ }, 'Celery\'s "raised" line for the failure')
  t.notMatch(worker.stderr(), /talking|kaboom/, 'nothing of it on stderr')
  const talked = logged.find((line) => /^task log\.talk\[\S+\] succeeded/.test(String(line.msg)))
  t.match(talked, { level: 'info', msg: /^task log\.talk\[\S+\] succeeded in \d+\.\d{3} s: 'talked'$/, task: 'log.talk' }, 'Celery\'s "succeeded" line, with the result')
  t.ok(logged.some((line) => line.msg === `task log.talk[${String(talked?.id)}] received`), 'and its "received" line')
})

t.test('at the default level (warning) a worker logs no line per task', async (t) => {
  const dir = tempDir(t)
  const worker = startWorker(['-A', fixture('logging-app.ts'), '-n', `plain${process.pid}@%h`, '-c', '1', '-B', '--log-format', 'json'], { BEAT_SCHEDULE_FILE: join(dir, 'schedule.json') })
  await worker.ready()
  // Each tick's success handler throws: an error line, logged after the tick succeeded.
  await worker.logged(/handler of log\.tick\[/)
  t.equal(await worker.stop(), 0)
  t.notMatch(worker.stderr(), /received|succeeded/, 'no "received" or "succeeded" line')
})
