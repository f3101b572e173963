import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, watch } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { lines, tempDir } from '../helpers/files.js'

const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))
const fixture = fileURLToPath(new URL('../fixtures/beat-memory-app.ts', import.meta.url))

t.test('cli beat - help exits 0, usage errors exit 2, a bad schedule exits 1 naming the entry', async (t) => {
  const help = spawnSync(process.execPath, [bin, 'beat', '--help'], { encoding: 'utf8' })
  t.equal(help.status, 0)
  t.match(help.stdout, /Usage: celeriac beat -A <module>/)
  const missing = spawnSync(process.execPath, [bin, 'beat'], { encoding: 'utf8' })
  t.equal(missing.status, 2)
  t.match(missing.stderr, /beat: -A\/--app <module> is required/)
  const level = spawnSync(process.execPath, [bin, 'beat', '-A', fixture, '-l', 'loud'], { encoding: 'utf8' })
  t.equal(level.status, 2)
  t.match(level.stderr, /--loglevel must be one of debug, info, warning, error, critical, got "loud"/)
  const dir = tempDir(t)
  const bad = spawnSync(process.execPath, [bin, 'beat', '-A', fixture], { encoding: 'utf8', env: { ...process.env, BEAT_BAD: '1', BEAT_SCHEDULE_FILE: `${dir}/schedule.json` } })
  t.equal(bad.status, 1)
  t.match(bad.stderr, /celeriac: beat entry "broken": bad cron expression "99 \* \* \* \*": Constraint error, got value 99 expected range 0-59/)
})

t.test('cli worker -B - the embedded beat sends the entry, the node runs it, SIGTERM stops both with exit code 0', async (t) => {
  const dir = tempDir(t)
  const out = `${dir}/marks`
  const child = spawn(process.execPath, [bin, 'worker', '-A', fixture, '-c', '1', '-B'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BEAT_OUT: out, BEAT_SCHEDULE_FILE: `${dir}/schedule.json` } })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  // Woken by each write of the task to its file.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no two runs within 20 s:\n${output}`)), 20_000)
    const watcher = watch(dir, () => {
      if (lines(out).length >= 2) {
        clearTimeout(timer)
        watcher.close()
        resolve()
      }
    })
    exited.then((code) => reject(new Error(`worker exited (${code}):\n${output}`)))
  })
  child.kill('SIGTERM')
  t.equal(await exited, 0)
  t.match(output, /SIGTERM: warm shutdown/)
  t.ok(existsSync(`${dir}/schedule.json`), 'the last run is kept in the schedule file')
})
