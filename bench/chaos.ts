// `npm run chaos` (issue 13): what celeriac loses, repeats and leaks when things die under it,
// on real nats-server processes and real `celeriac worker` processes.
//   worker-kills    N acksLate tasks on two workers; a worker SIGKILLed (and replaced) K times
//   server-restart  N acksLate tasks, a third delayed; the nats-server SIGKILLed and restarted
//                   (same port, same store) mid-run
//   cluster-leader  N acksLate tasks on a 3-node R3 cluster; the queue stream's leader SIGKILLed
//                   mid-run and left down until the run is over
//   malformed-flood N hostile messages (test/helpers/hostile-messages.ts), one valid task in three
// Each prints sent, completed (SUCCESS in the result backend), lost, executed more than once,
// dead-lettered, and the worker's RSS before and after; then one JSON line with everything.
// `--short`: 300 tasks and 2 kills (what CI runs). `--n N`, `--kills K`, `--only a,b` change it.
// Exits 1 when a task is lost, a delayed task ran early, or a worker died by itself.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { startNatsCluster, startNatsServer } from '../src/testing/nats-server.js'
import { createApp, TaskState, type App, type AsyncResult } from '../src/index.js'
import { startWorkerProcess, type WorkerProcess } from '../test/helpers/worker-process.js'
import { RawPublisher } from '../test/helpers/raw-nats.js'
import { hostileTraffic, rssKb, sendTraffic } from '../test/helpers/hostile-messages.js'
import { table } from './stats.js'

const { values: args } = parseArgs({
  options: { short: { type: 'boolean', default: false }, n: { type: 'string' }, kills: { type: 'string' }, only: { type: 'string' } },
})
const N = Number(args.n ?? (args.short ? 300 : 10_000))
const KILLS = Number(args.kills ?? (args.short ? 2 : 10))
const ONLY = args.only?.split(',')
const fixture = fileURLToPath(new URL('../test/fixtures/durability-app.ts', import.meta.url))
const hostileFixture = fileURLToPath(new URL('../test/fixtures/hostile-app.ts', import.meta.url))
const SEND_WINDOW = 500

/** What one scenario reports. */
interface Outcome {
  scenario: string
  sent: number
  completed: number
  lost: number
  executedMoreThanOnce: number
  deadLettered: number
  workerRssBeforeMiB: number
  workerRssAfterMiB: number
  seconds: number
  note: string
}

const mib = (kb: number) => Math.round((kb / 1024) * 10) / 10
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function runsIn(file: string): Map<number, number> {
  const count = new Map<number, number>()
  if (!existsSync(file)) return count
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue
    const i = Number(line.split(' ')[0])
    count.set(i, (count.get(i) ?? 0) + 1)
  }
  return count
}

function firstRuns(file: string): Map<number, number> {
  const first = new Map<number, number>()
  if (!existsSync(file)) return first
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue
    const [i, , at] = line.split(' ').map(Number)
    if (!first.has(i)) first.set(i, at)
  }
  return first
}

/** Sends `d.work` tasks in windows; `eta(i)` delays some. */
async function sendWork(app: App, n: number, file: string, queue: string, eta?: (i: number) => number | undefined): Promise<AsyncResult[]> {
  const sent: AsyncResult[] = []
  for (let start = 0; start < n; start += SEND_WINDOW) {
    const batch = Array.from({ length: Math.min(SEND_WINDOW, n - start) }, (_, k) => {
      const i = start + k
      const at = eta?.(i)
      return app.sendTask('d.work', [i, 1, file], { queue, ...(at === undefined ? {} : { eta: new Date(at) }) })
    })
    sent.push(...(await Promise.all(batch)))
  }
  return sent
}

/** How many of `sent` are SUCCESS in the result backend, waiting up to `ms` for the rest. */
async function completed(app: App, sent: readonly AsyncResult[], ms: number): Promise<number> {
  const backend = await app.backend()
  let pending = [...sent]
  const deadline = Date.now() + ms
  for (;;) {
    const still: AsyncResult[] = []
    for (let i = 0; i < pending.length; i += SEND_WINDOW) {
      const slice = pending.slice(i, i + SEND_WINDOW)
      const states = await Promise.all(slice.map((r) => backend.get(r.id).then((m) => m?.state, () => undefined)))
      slice.forEach((r, k) => states[k] !== TaskState.SUCCESS && still.push(r))
    }
    pending = still
    if (pending.length === 0 || Date.now() > deadline) return sent.length - pending.length
    await sleep(500)
  }
}

/** Dead letters of `queue`, asking again while the cluster elects leaders (a read times out meanwhile). */
/** What a scenario that sent `sent` tasks to queue `chaos` shows: counted from the backend and the runs file. */
async function tally(scenario: string, app: App, file: string, sent: number, done: number, rssBeforeKb: number, rssAfterKb: number, began: number, note: string): Promise<Outcome> {
  const runs = runsIn(file)
  return {
    scenario,
    sent,
    completed: done,
    lost: sent - done,
    executedMoreThanOnce: [...runs.values()].filter((c) => c > 1).length,
    deadLettered: await deadLetterCount(app, 'chaos'),
    workerRssBeforeMiB: mib(rssBeforeKb),
    workerRssAfterMiB: mib(rssAfterKb),
    seconds: (Date.now() - began) / 1000,
    note,
  }
}

async function deadLetterCount(app: App, queue: string): Promise<number> {
  const transport = await app.transport()
  for (let tries = 1; ; tries++) {
    try {
      return (await transport.deadLetters(queue)).length
    } catch (error) {
      if (tries >= 10) throw error
      await sleep(1_000)
    }
  }
}

async function waitForRuns(file: string, n: number, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms
  while (runsIn(file).size < n && Date.now() < deadline) await sleep(20)
}

function worker(url: string, hostname: string, queue: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  return startWorkerProcess({ app: fixture, hostname, args: ['-c', '4', '-Q', queue, '--loglevel', 'error'], env: { CELERIAC_BROKER_URL: url, CELERIAC_RESULT_BACKEND: 'nats://', ...env } })
}

function clientApp(url: string, name: string): App {
  return createApp({ name, broker: url, backend: 'nats://', config: { taskAcksLate: true, brokerAckWait: 2, brokerMaxDeliver: null } })
}

async function workerKills(dir: string): Promise<Outcome> {
  const began = Date.now()
  const server = await startNatsServer()
  const app = clientApp(server.url, 'chaos-kills')
  const file = join(dir, 'kills')
  const workers = [await worker(server.url, 'k0@%h', 'chaos'), await worker(server.url, 'k1@%h', 'chaos')]
  const rssBefore = rssKb(workers[0].child.pid!)
  let rssAfter = 0
  try {
    const sent = await sendWork(app, N, file, 'chaos')
    for (let k = 0; k < KILLS; k++) {
      // Spread the kills over the run, each while tasks are running.
      await waitForRuns(file, Math.floor(((k + 1) * N) / (KILLS + 2)))
      const victim = workers.shift()!
      await victim.stop('SIGKILL')
      workers.push(await worker(server.url, `k${k + 2}@%h`, 'chaos'))
    }
    const done = await completed(app, sent, 180_000)
    rssAfter = rssKb(workers[0].child.pid!)
    return await tally('worker-kills', app, file, N, done, rssBefore, rssAfter, began, `${KILLS} worker SIGKILLs (2 workers, -c 4, acksLate, ack wait 2 s; RSS after is the last replacement's)`)
  } finally {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')))
    await app.close()
    await server.cleanup()
  }
}

async function serverRestart(dir: string): Promise<Outcome> {
  const began = Date.now()
  const server = await startNatsServer()
  const app = clientApp(server.url, 'chaos-restart')
  const file = join(dir, 'restart')
  const w = await worker(server.url, 'r@%h', 'chaos')
  const rssBefore = rssKb(w.child.pid!)
  try {
    const start = Date.now()
    const etas = new Map<number, number>()
    // A third delayed, due from before the crash to well after the restart.
    const sent = await sendWork(app, N, file, 'chaos', (i) => {
      if (i % 3 !== 0) return undefined
      const at = start + 1_000 + (i % 10) * 500
      etas.set(i, at)
      return at
    })
    await waitForRuns(file, Math.floor(N / 4))
    await server.restart('SIGKILL')
    const done = await completed(app, sent, 180_000)
    const early = [...firstRuns(file)].filter(([i, at]) => etas.has(i) && at < etas.get(i)!).length
    if (early > 0) process.exitCode = 1
    return await tally('server-restart', app, file, N, done, rssBefore, rssKb(w.child.pid!), began, `nats-server SIGKILL + restart at 1/4; ${etas.size} delayed, ${early} ran before their ETA; worker ${w.child.exitCode === null ? 'up' : 'exited'}`)
  } finally {
    await w.stop('SIGKILL')
    await app.close()
    await server.cleanup()
  }
}

async function clusterLeader(dir: string): Promise<Outcome> {
  const began = Date.now()
  const cluster = await startNatsCluster(3)
  const app = clientApp(cluster.url, 'chaos-cluster')
  const file = join(dir, 'cluster')
  const w = await worker(cluster.url, 'c@%h', 'chaos')
  const rssBefore = rssKb(w.child.pid!)
  const nc = await connect({ servers: cluster.url.slice('nats://'.length).split(','), maxReconnectAttempts: -1 })
  try {
    const sent = await sendWork(app, N, file, 'chaos')
    await waitForRuns(file, Math.floor(N / 4))
    const jsm = await jetstreamManager(nc)
    const info = await jsm.streams.info('CELERIAC_Q_chaos')
    const leader = info.cluster!.leader!
    await cluster.node(leader).kill('SIGKILL')
    const killedAt = Date.now()
    const done = await completed(app, sent, 180_000)
    const allDoneS = (Date.now() - killedAt) / 1000
    const down = !cluster.node(leader).running
    return await tally('cluster-leader', app, file, N, done, rssBefore, rssKb(w.child.pid!), began, `R${info.config.num_replicas} on 3 servers; leader ${leader} SIGKILLed at 1/4 and ${down ? 'still down at the end' : 'back before the end'}; every task SUCCESS ${allDoneS.toFixed(1)} s after the kill`)
  } finally {
    await nc.close()
    await w.stop('SIGKILL')
    await app.close()
    await cluster.cleanup()
  }
}

async function malformedFlood(): Promise<Outcome> {
  const began = Date.now()
  const server = await startNatsServer()
  process.env.CELERIAC_BROKER_URL = server.url
  process.env.CELERIAC_RESULT_BACKEND = 'nats://'
  const { app } = await import('../test/fixtures/hostile-app.js')
  const w = await startWorkerProcess({ app: hostileFixture, hostname: 'flood@%h', args: ['-c', '2', '--loglevel', 'error'], env: { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: 'nats://' } })
  const raw = await RawPublisher.open(server.url)
  const rssBefore = rssKb(w.child.pid!)
  try {
    // Within the dead-letter stream's 10,000 per queue.
    const traffic = hostileTraffic(Math.min(N, 9_000), 13, 3, 'chaos')
    await sendTraffic(await app.transport(), raw, traffic, 256)
    const valid = traffic.flatMap((m) => (m.kind === 'valid' ? [m] : []))
    let ok = 0
    for (let i = 0; i < valid.length; i += 256) {
      const values = await Promise.all(valid.slice(i, i + 256).map((m) => app.asyncResult(m.id).get({ timeout: 120 }).then((v) => v === m.x + 1, () => false)))
      ok += values.filter(Boolean).length
    }
    const expected = traffic.filter((m) => m.kind === 'refused' || m.kind === 'raw-headers').length
    let letters = 0
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
      letters = (await app.deadLetters('celery')).length
      if (letters >= expected) break
    }
    const up = w.child.exitCode === null && w.child.signalCode === null
    if (!up) process.exitCode = 1
    return {
      scenario: 'malformed-flood',
      sent: valid.length,
      completed: ok,
      lost: valid.length - ok,
      executedMoreThanOnce: 0,
      deadLettered: letters,
      workerRssBeforeMiB: mib(rssBefore),
      workerRssAfterMiB: mib(rssKb(w.child.pid!)),
      seconds: (Date.now() - began) / 1000,
      note: `${traffic.length} messages, ${valid.length} valid tasks among them (sent and completed count those); ${expected} must be dead-lettered; worker ${up ? 'up' : 'DIED'}`,
    }
  } finally {
    raw.close()
    await w.stop('SIGKILL')
    await app.close()
    await server.cleanup()
  }
}

const scenarios: Record<string, (dir: string) => Promise<Outcome>> = {
  'worker-kills': workerKills,
  'server-restart': serverRestart,
  'cluster-leader': clusterLeader,
  'malformed-flood': malformedFlood,
}

const dir = mkdtempSync(join(tmpdir(), 'celeriac-chaos-'))
const outcomes: Outcome[] = []
try {
  for (const [name, run] of Object.entries(scenarios)) {
    if (ONLY && !ONLY.includes(name)) continue
    const outcome = await run(dir)
    outcomes.push(outcome)
    appendFileSync(join(dir, 'log'), JSON.stringify(outcome) + '\n')
    console.error(`${name}: done in ${outcome.seconds.toFixed(1)} s`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
if (outcomes.some((o) => o.lost > 0)) process.exitCode = 1
console.log(`chaos: ${N.toLocaleString('en-US')} tasks a scenario, ${KILLS} worker kills (node ${process.version})\n`)
console.log(table(outcomes.map((o) => ({
  scenario: o.scenario,
  sent: o.sent,
  completed: o.completed,
  lost: o.lost,
  'ran >1': o.executedMoreThanOnce,
  'dead-lettered': o.deadLettered,
  'worker RSS before / after, MiB': `${o.workerRssBeforeMiB} / ${o.workerRssAfterMiB}`,
  s: o.seconds.toFixed(1),
}))))
console.log()
for (const o of outcomes) console.log(`${o.scenario}: ${o.note}`)
console.log()
console.log(JSON.stringify({ n: N, kills: KILLS, outcomes }))
