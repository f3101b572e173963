// What a worker costs to start, as a user runs it: `celeriac worker -A app.ts` against the same
// app compiled to `app.js`, from the packed tarball installed in a temporary project (the
// installed CLI runs dist/, as a user's does). For each module kind and concurrency it starts
// the worker RUNS times and records the time from spawn to "<name> ready." and the resident
// set once idle (IDLE_MS after ready). Prints a table and, last, one JSON line.
//
//   npm run bench:startup                        # -c 2 and -c 8, 3 runs each
//   RUNS=5 CONCURRENCY=2,4,8 npm run bench:startup
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { installTarball, packedTarball } from '../test/helpers/packed-tarball.js'

const RUNS = Number(process.env.RUNS ?? 3)
const CONCURRENCY = (process.env.CONCURRENCY ?? '2,8').split(',').map(Number)
const IDLE_MS = Number(process.env.IDLE_MS ?? 1000)

/** The same app in both forms: an app module that includes a task module. */
const SOURCES = {
  ts: {
    'app.ts': `import { createApp } from 'celeriac'\nexport const app = createApp({ name: 'startup', include: ['./tasks.js'] })\n`,
    'tasks.ts': `import { app } from './app.js'\nexport const add = app.task('tasks.add', (x: number, y: number): number => x + y)\nexport const upper = app.task('tasks.upper', (text: string): string => text.toUpperCase())\n`,
  },
  js: {
    'app.js': `import { createApp } from 'celeriac'\nexport const app = createApp({ name: 'startup', include: ['./tasks.js'] })\n`,
    'tasks.js': `import { app } from './app.js'\nexport const add = app.task('tasks.add', (x, y) => x + y)\nexport const upper = app.task('tasks.upper', (text) => text.toUpperCase())\n`,
  },
} as const

interface Sample { readyMs: number; rssMb: number }
interface Row { app: 'app.ts' | 'app.js'; concurrency: number; readyMs: number; rssMb: number; runs: Sample[] }

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Math.round(Number(match[1]) / 1024) : NaN
}

/** Starts one worker, waits for ready, measures, stops it. */
function startOnce(project: string, app: string, concurrency: number): Promise<Sample> {
  const started = performance.now()
  const child = spawn(process.execPath, [join(project, 'node_modules/celeriac/bin/celeriac.js'), 'worker', '-A', app, '-c', String(concurrency), '-B', '-l', 'error'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stderr.on('data', (chunk: Buffer) => (out += chunk))
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before ready:\n${out}`)))
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk
      if (!/ ready\.$/m.test(out)) return
      const readyMs = Math.round(performance.now() - started)
      child.stdout.removeAllListeners('data')
      setTimeout(() => {
        const sample = { readyMs, rssMb: rssMb(child.pid!) }
        child.removeAllListeners('exit')
        child.once('exit', () => resolve(sample))
        child.kill('SIGTERM')
      }, IDLE_MS)
    })
  })
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const project = mkdtempSync(join(tmpdir(), 'celeriac-startup-'))
try {
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'startup', private: true, type: 'module' }))
  const tarball = await packedTarball()
  await installTarball(project, tarball.path)
  for (const files of Object.values(SOURCES)) for (const [name, text] of Object.entries(files)) writeFileSync(join(project, name), text)
  // -B feeds nothing here: it only keeps the memory:// worker from warning. One warm-up start
  // fills tsx's transform cache and the OS file cache, so the runs compare steady states.
  await startOnce(project, 'app.ts', 1)
  await startOnce(project, 'app.js', 1)

  const rows: Row[] = []
  for (const concurrency of CONCURRENCY) {
    for (const app of ['app.ts', 'app.js'] as const) {
      const runs: Sample[] = []
      // Alternate-free: each configuration's runs back to back, so a neighbour's load hits all alike.
      for (let run = 0; run < RUNS; run++) runs.push(await startOnce(project, app, concurrency))
      rows.push({ app, concurrency, readyMs: median(runs.map((r) => r.readyMs)), rssMb: median(runs.map((r) => r.rssMb)), runs })
    }
  }

  const cpus = (await import('node:os')).cpus().length
  console.log(`worker start-up, Node ${process.version}, ${cpus} cores, median of ${RUNS} runs (idle RSS read ${IDLE_MS} ms after ready)\n`)
  console.log('| app | -c | time to ready | idle RSS |')
  console.log('|---|---:|---:|---:|')
  for (const row of rows) console.log(`| ${row.app} | ${row.concurrency} | ${(row.readyMs / 1000).toFixed(2)} s | ${row.rssMb} MB |`)
  console.log()
  console.log(JSON.stringify({ node: process.version, cpus, runs: RUNS, idleMs: IDLE_MS, rows }))
} finally {
  rmSync(project, { recursive: true, force: true })
}
