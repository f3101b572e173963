import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { decodeHeaders } from '../../src/protocol/envelope.js'

type Fixture = typeof import('../fixtures/beat-app.js')
const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))
const fixture = fileURLToPath(new URL('../fixtures/beat-app.ts', import.meta.url))
const LEASE_MS = 2_000

let server: NatsServer
let f: Fixture
const beats: BeatProcess[] = []
/** Task ids as they arrive in the queue the entry sends to. */
const queued: string[] = []

// Beat processes started and killed in turn: 36 s of tap's 60 under the full suite on 2 cores.
t.setTimeout(120_000)

t.before(async () => {
  server = await startNatsServer()
  process.env.CELERIAC_BROKER_URL = server.url
  f = await import('../fixtures/beat-app.js')
  const transport = await f.app.transport()
  await transport.declareQueue({ name: 'beat-ticks' })
  transport.consume('beat-ticks', (delivery) => {
    queued.push(decodeHeaders(delivery.body).id)
    delivery.ack()
  }).pull(100_000)
})
t.teardown(async () => {
  await Promise.all(beats.map((b) => b.stop('SIGKILL')))
  await f?.app.close()
  await server?.cleanup()
})

/** A `celeriac beat` process. */
interface BeatProcess {
  readonly child: ChildProcess
  output(): string
  /** The task ids it logged as sent, in order. */
  sent(): string[]
  /** Resolves once `check` holds on its output (checked on every chunk it prints). */
  until(check: () => boolean, what: string, ms?: number): Promise<void>
  stop(signal: NodeJS.Signals): Promise<unknown>
}

async function startBeat(): Promise<BeatProcess> {
  const child = spawn(process.execPath, [bin, 'beat', '-A', fixture, '-l', 'info'], { env: { ...process.env, CELERIAC_BROKER_URL: server.url }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const onData = (chunk: Buffer) => (output += chunk)
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)))
  const beat: BeatProcess = {
    child,
    output: () => output,
    // The CLI logs JSON lines (pino) when stderr is not a terminal.
    sent: () => output.split('\n').filter((line) => line.startsWith('{') && line.includes('Sending due task tick (b.tick)')).flatMap((line) => {
      try {
        return [(JSON.parse(line) as { id: string }).id]
      } catch {
        return [] // a line still being written
      }
    }),
    until: (check, what, ms = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => {
          clearTimeout(timer)
          child.stdout!.off('data', test)
          child.stderr!.off('data', test)
          if (error) reject(error)
          else resolve()
        }
        const test = () => check() && done()
        const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}:\n${output}`)), ms)
        child.stdout!.on('data', test)
        child.stderr!.on('data', test)
        test()
      }),
    stop: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
  beats.push(beat)
  await beat.until(() => output.includes(' ready.'), 'the beat to start', 30_000)
  return beat
}

const fireTime = (id: string) => Date.parse(id.slice('tick:'.length))
const allSent = () => beats.flatMap((b) => b.sent())

t.test('beat over NATS - two beats for 20 s: every tick is sent exactly once, by the leader; SIGKILL the leader and the other takes over within the lease', async (t) => {
  const [a, b] = await Promise.all([startBeat(), startBeat()])
  const leading = () => [a, b].find((p) => p.sent().length > 0)
  await Promise.race([a, b].map((p) => p.until(() => p.sent().length > 0, 'a first tick')))
  const leader = leading()!
  const standby = leader === a ? b : a
  await leader.until(() => leader.sent().length >= 20, '20 ticks', 40_000)

  const ticks = leader.sent()
  t.same(standby.sent(), [], 'the standby sent nothing')
  t.equal(new Set(ticks).size, ticks.length, 'no tick sent twice')
  const gaps = ticks.slice(1).map((id, i) => fireTime(id) - fireTime(ticks[i]))
  t.same(new Set(gaps), new Set([1000]), 'a tick every second, none missed')

  const killedAt = Date.now()
  const lastOfLeader = () => leader.sent().at(-1)!
  await leader.stop('SIGKILL')
  await standby.until(() => standby.output().includes('is now the leader'), 'the standby to take over')
  const takeover = Date.now() - killedAt
  t.ok(takeover <= LEASE_MS + LEASE_MS / 3 + 1_500, `the standby leads ${takeover} ms after the kill (lease ${LEASE_MS} ms)`)
  await standby.until(() => standby.sent().length >= 3, 'three ticks from the new leader')
  const first = fireTime(standby.sent()[0])
  t.ok(first > fireTime(lastOfLeader()), 'it starts after the last tick of the dead leader')
  t.equal((first - fireTime(ticks[0])) % 1000, 0, 'on the same one-second grid')
  const all = allSent()
  t.equal(new Set(all).size, all.length, 'no tick sent twice across both beats')
  await standby.until(() => all.every((id) => queued.includes(id)), 'the queue to hold every tick sent')
  t.same(queued.filter((id) => all.includes(id)).sort(), [...all].sort(), 'the queue holds each tick sent, once')
})

t.test('beat over NATS - a beat restarted after SIGKILL sends no tick again and keeps the schedule from the KV store', async (t) => {
  const running = beats.find((p) => p.child.exitCode === null && p.child.signalCode === null)!
  const before = running.sent().length
  await running.until(() => running.sent().length > before, 'a fresh tick')
  await running.stop('SIGKILL')
  const last = fireTime(running.sent().at(-1)!)
  const restarted = await startBeat()
  await restarted.until(() => restarted.sent().length >= 2, 'two ticks from the restarted beat')
  const resumed = restarted.sent().map(fireTime)
  t.ok(resumed[0] > last, 'its first tick is after the last one sent before the kill')
  t.ok(resumed.every((ms) => (ms - last) % 1000 === 0), 'on the grid of the stored last run')
  t.match(restarted.output(), /beat: entry tick missed runs from .*; sending once, for /, 'missed runs collapse into one, logged')
  const all = allSent()
  t.equal(new Set(all).size, all.length, 'no tick sent twice, before or after the restart')
})
