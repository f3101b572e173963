// `npm run bench:profile`: CPU profiles (`--cpu-prof`) of the e2e NATS workload: a `celeriac
// worker` process at its defaults (main thread and worker threads) and the bench client
// process sending no-op tasks and awaiting their KV results, on a fresh nats-server. Prints the
// top of each profile by self time, aggregated by function, and leaves the .cpuprofile files in
// bench/results/profiles/ (open them in Chrome DevTools). `--tasks N` (default 20,000); `--top N`
// rows per profile; `--args="-c 2 --lookahead 0"` passes worker options (with `=`: the value
// starts with a dash).
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { startNatsServer } from '../src/testing/nats-server.js'
import { startWorkerProcess } from '../test/helpers/worker-process.js'
import { root, tsNode } from './peers/contender.js'
import type { Plan } from './peers/plan.js'
import { runJson } from './peers/processes.js'
import { markdownTable, writeDocSection } from './doc-section.js'
import { table } from './stats.js'

const { values: flags } = parseArgs({ options: { tasks: { type: 'string' }, top: { type: 'string' }, args: { type: 'string' }, write: { type: 'boolean' } }, strict: true })
const tasks = Number(flags.tasks ?? 20_000)
const top = Number(flags.top ?? 15)
const dir = fileURLToPath(new URL('./results/profiles/', import.meta.url))
rmSync(dir, { recursive: true, force: true })
mkdirSync(`${dir}worker`, { recursive: true })
mkdirSync(`${dir}client`, { recursive: true })

const server = await startNatsServer()
const env = { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: 'nats://' }
const appModule = fileURLToPath(new URL('./fixtures/compare-app.ts', import.meta.url))
const worker = await startWorkerProcess({ app: appModule, built: true, hostname: 'profile@%h', args: flags.args?.split(' ') ?? [], env: { ...env, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}worker` } })
let rate: number | undefined
try {
  const plan: Plan = { workloads: ['throughput'], tasks, roundTrips: 0, cpuTasks: 0, cpuMs: 0, ioTasks: 0, ioMs: 0, chordSize: 0, window: 1_000, timeoutS: 120 }
  const [command, args] = tsNode(new URL('./peers/celeriac-client.ts', import.meta.url).href, JSON.stringify(plan))
  rate = (await runJson<{ throughput: number }>('celeriac client', command, [`--cpu-prof`, `--cpu-prof-dir=${dir}client`, ...args], { env, cwd: root })).throughput
} finally {
  await worker.stop()
  await server.cleanup()
}

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Self time by function (name, file and line), as a share of the profile's sampled time. */
function selfTimes(file: string): { rows: Record<string, string | number>[]; totalMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    total += dt
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const where = url ? `${url.replace(/^file:\/\//, '').replace(root, '').replace(/.*node_modules\//, '~/')}:${lineNumber + 1}` : ''
    const key = `${functionName || '(anonymous)'} ${where}`.trim()
    self.set(key, (self.get(key) ?? 0) + dt)
  })
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, us]) => ({ 'self %': Number(((100 * us) / total).toFixed(1)), 'self ms': Math.round(us / 1000), function: fn }))
  return { rows, totalMs: total / 1000 }
}

const heading = `${tasks} no-op tasks end to end, twice (the bench's cold pass, then its steady state), NATS + KV results, worker at ${flags.args ?? 'its defaults'}: ${Math.round(rate ?? 0)} tasks/s in the second pass (under the profiler)`
console.log(heading)
const sections = [`Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:profile -- --write\`: ${heading}. Self time by function; \`(idle)\` is time the thread waited.`]
for (const who of ['worker', 'client']) {
  const files = readdirSync(`${dir}${who}`).filter((f) => f.endsWith('.cpuprofile')).sort()
  files.forEach((f, i) => {
    const { rows, totalMs } = selfTimes(`${dir}${who}/${f}`)
    console.log(`\n${who} ${f} (${Math.round(totalMs)} ms sampled)\n${table(rows)}`)
    // Node names a process's profiles in thread order: the main thread's first.
    const name = who === 'client' ? 'client process' : i === 0 ? 'worker process, main thread' : `worker process, worker thread ${i}`
    sections.push('', `**${name}** (${Math.round(totalMs)} ms sampled)`, '', markdownTable(rows.map((r) => ({ ...r, function: `\`${String(r.function)}\`` }))))
  })
}
if (flags.write) writeDocSection('profile', sections.join('\n'))
