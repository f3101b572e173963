import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))
const fixture = fileURLToPath(new URL('../fixtures/app.ts', import.meta.url))

t.test('cli - worker prints its banner, serves, and stops warm on SIGTERM with exit code 0', async (t) => {
  const child = spawn(process.execPath, [bin, 'worker', '-A', fixture, '-c', '1', '-n', 'cli@%h'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk
      if (output.includes('[tasks]')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}: ${output}`)))
  })
  await ready
  t.match(output, /^cli@\S+ ready\./m)
  t.match(output, /- app: +fixture/)
  t.match(output, /- concurrency: 1 \(threads\)/)
  t.match(output, /\. t\.add/)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exited, 0)
  t.match(output, /SIGTERM: warm shutdown/)
})

t.test('cli - usage errors exit with code 2 and say what is wrong', async (t) => {
  const missing = spawnSync(process.execPath, [bin, 'worker'], { encoding: 'utf8' })
  t.equal(missing.status, 2)
  t.match(missing.stderr, /worker: -A\/--app <module> is required/)
  const unknown = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' })
  t.equal(unknown.status, 2)
  t.match(unknown.stderr, /unknown command "frobnicate"/)
  const badCount = spawnSync(process.execPath, [bin, 'worker', '-A', fixture, '-c', 'many'], { encoding: 'utf8' })
  t.equal(badCount.status, 2)
  t.match(badCount.stderr, /--concurrency must be a positive integer, got "many"/)
  const noApp = spawnSync(process.execPath, [bin, 'worker', '-A', fileURLToPath(new URL('../helpers/files.ts', import.meta.url))], { encoding: 'utf8' })
  t.equal(noApp.status, 1)
  t.match(noApp.stderr, /exports no celeriac app/)
})
