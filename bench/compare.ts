// `npm run bench`: celeriac side by side with BullMQ and Celery, in one session on this machine.
// Every contender runs the same workloads (bench/peers/plan.ts) in its own worker and client
// processes, on a server started for each run, and every run interleaves the contenders (in an
// order that moves from run to run: see inRunOrder in stats.ts).
// Prints a table, writes JSON and an SVG chart to bench/results/, and the figures into
// BENCHMARKS.md. `--quick`: fewer tasks, one run, nothing written outside bench/results/.
// `--only celeriac,jetstream,bullmq,celery` picks systems; `--runs N` overrides the number of runs.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { barChart } from './chart.js'
import { goals, markdown, panels, ratios, ratioTable, readmeTable, rows, textTable, type Samples } from './report.js'
import { writeDocSection } from './doc-section.js'
import { bullmqContenders } from './peers/bullmq.js'
import { celeriacContenders, DEFAULTS_LABEL, EQUAL_LABEL } from './peers/celeriac.js'
import { jetstreamContenders } from './peers/jetstream.js'
import { celeryContenders, PYTHON } from './peers/celery.js'
import { versionOf, type Contender } from './peers/contender.js'
import type { Plan } from './peers/plan.js'
import { cleanUpOnExit, stopAll } from './peers/processes.js'
import { inRunOrder } from './stats.js'

const FULL = { tasks: 20_000, roundTrips: 1_000, cpuTasks: 1_000, cpuMs: 5, ioTasks: 5_000, ioMs: 20, chordSize: 1_000, window: 1_000, timeoutS: 120, runs: 3 }
const QUICK = { tasks: 2_000, roundTrips: 200, cpuTasks: 100, cpuMs: 5, ioTasks: 500, ioMs: 20, chordSize: 200, window: 1_000, timeoutS: 20, runs: 1 }
const SYSTEMS = ['celeriac', 'bullmq', 'celery', 'jetstream']
/** The configurations the project's goals are about: the defaults, and equal in-flight. */
const HEADLINE = `NATS + KV results, ${DEFAULTS_LABEL}`
const EQUAL = EQUAL_LABEL

const { values: flags } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, runs: { type: 'string' } }, strict: true })
const { runs: defaultRuns, ...sizes } = flags.quick ? QUICK : FULL
const runs = flags.runs === undefined ? defaultRuns : Number(flags.runs)
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${JSON.stringify(flags.runs)}`)
const only = flags.only?.toLowerCase().split(',').map((s) => s.trim()) ?? SYSTEMS
const unknown = only.filter((s) => !SYSTEMS.includes(s))
if (unknown.length > 0) throw new Error(`--only: unknown system ${JSON.stringify(unknown[0])} (systems: ${SYSTEMS.join(', ')})`)

const chosen = [...celeriacContenders, ...jetstreamContenders, ...bullmqContenders, ...celeryContenders].filter((c) => only.includes(c.system.toLowerCase()))
const label = (c: Contender) => `${c.system} ${c.config}`

// What is missing is reported with its install command, and that contender is skipped.
const skipped: { contender: string; missing: string; install: string }[] = []
const active = chosen.filter((c) => {
  const missing = c.requires.find((r) => !r.available())
  if (missing) skipped.push({ contender: label(c), missing: missing.what, install: missing.install })
  return !missing
})
for (const s of skipped) console.log(`skipped ${s.contender}: ${s.missing} is missing; install it with: ${s.install}`)
for (const install of new Set(skipped.map((s) => s.install))) console.log(`  ${install}`)

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: availableParallelism(),
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  os: `${type()} ${release()}`,
  loadAverageAtStart: Number(loadavg()[0].toFixed(2)),
}
const number = (text: string) => text.match(/\d+\.\d+\.\d+/)?.[0] ?? text
const versions = {
  node: process.version,
  natsServer: number(versionOf('nats-server')),
  redis: number(versionOf('redis-server')),
  bullmq: packageVersion('bullmq'),
  celery: number(versionOf(PYTHON, ['-c', 'import celery; print(celery.__version__)'])),
  python: number(versionOf(PYTHON)),
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(createRequire(import.meta.url).resolve(`${name}/package.json`), 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

cleanUpOnExit()
const began = performance.now()
const samples = new Map<Contender, Samples>(active.map((c) => [c, { system: c.system, config: c.config, workloads: c.workloads, runs: [] }]))
try {
  for (let run = 1; run <= runs; run++) {
    for (const contender of inRunOrder(active, run, runs).filter((c) => samples.get(c)!.failure === undefined)) {
      const plan: Plan = { ...sizes, workloads: [...contender.workloads] }
      const started = performance.now()
      process.stdout.write(`run ${run}/${runs}  ${label(contender)} ... `)
      try {
        const measures = await contender.run(plan)
        samples.get(contender)!.runs.push(measures)
        console.log(`${((performance.now() - started) / 1000).toFixed(1)} s  ${JSON.stringify(measures, (_, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`)
      } catch (error) {
        // One contender failing does not stop the others; it is reported and left out.
        const [reason, ...output] = (error as Error).message.split('\n')
        samples.get(contender)!.failure = reason
        console.log(`FAILED: ${reason}\n${output.join('\n')}`)
      }
    }
  }
} finally {
  await stopAll()
}
const seconds = (performance.now() - began) / 1000

const all = rows([...samples.values()])
const times = ratios(all)
const goalRows = goals(all, HEADLINE, EQUAL)
const date = new Date().toISOString()
const description = `${date.slice(0, 10)}, ${machine.cpu} (${machine.cores} cores, ${machine.memoryGiB} GiB), Node ${versions.node}, load ${machine.loadAverageAtStart} at start`

console.log(`\n${textTable(all)}\n\nceleriac's ratio to each peer (above 1: celeriac is better)\n${ratioTable(times)}\n`)
for (const g of goalRows) console.log(`${g.met === undefined ? 'not measured' : g.met ? 'met    ' : 'NOT met'}  ${g.goal}  (${g.detail})`)
for (const [c, { failure }] of samples) if (failure !== undefined) console.log(`failed: ${label(c)}: ${failure}`)
console.log(`\n${runs} run(s) in ${(seconds / 60).toFixed(1)} min`)

const results = new URL('./results/', import.meta.url)
mkdirSync(results, { recursive: true })
const name = flags.quick ? 'quick' : date.slice(0, 10)
const report = {
  benchmark: 'compare',
  date,
  quick: Boolean(flags.quick),
  machine,
  versions,
  plan: sizes,
  runs,
  seconds: Number(seconds.toFixed(1)),
  results: all,
  ratios: times,
  goals: goalRows,
  skipped,
  failed: [...samples].filter(([, s]) => s.failure !== undefined).map(([c, s]) => ({ contender: label(c), reason: s.failure })),
}
writeFileSync(new URL(`${name}.json`, results), JSON.stringify(report, null, 2) + '\n')
const chart = flags.quick ? 'quick.svg' : 'compare.svg'
writeFileSync(new URL(chart, results), barChart({ title: 'celeriac, BullMQ and Celery: medians, min-max whiskers', subtitle: description, panels: panels(all) }))
console.log(`wrote bench/results/${name}.json and bench/results/${chart}`)

if (!flags.quick) {
  // The figures go between the markers in BENCHMARKS.md; the prose around them stays.
  const doc = new URL('../BENCHMARKS.md', import.meta.url)
  const [begin, end] = ['<!-- results:begin -->', '<!-- results:end -->']
  const text = readFileSync(doc, 'utf8')
  const [head, rest] = text.split(begin)
  const tail = rest?.split(end)[1]
  if (tail === undefined) throw new Error(`BENCHMARKS.md: the markers ${begin} and ${end} are missing`)
  const section = [
    `Measured ${description}; nats-server ${versions.natsServer}, Redis ${versions.redis}, BullMQ ${versions.bullmq}, Celery ${versions.celery} (Python ${versions.python}). ${runs} runs, ${(seconds / 60).toFixed(1)} min in all. Raw figures: [bench/results/${name}.json](bench/results/${name}.json).`,
    '',
    `![celeriac, BullMQ and Celery side by side](bench/results/${chart})`,
    '',
    markdown(all, times, goalRows),
  ].join('\n')
  writeFileSync(doc, `${head}${begin}\n${section}\n${end}${tail}`)
  console.log('updated BENCHMARKS.md')
  writeDocSection('bench-table', `From the latest run (${description}, medians of ${runs}; ratios oriented so that above 1 means celeriac is better):\n\n${readmeTable(all, DEFAULTS_LABEL, EQUAL)}`, '../README.md')
}
