// `tsx bench/hostile.ts` (issue 19): 100,000 messages of hostile traffic (test/helpers/
// hostile-messages.ts: mutated frames, unparseable NATS headers, one valid task in three) to a
// `celeriac worker` process on a real nats-server. Prints what became of them, the throughput
// and the worker's memory, and exits 1 if the worker died, a valid task failed, or a refused
// message is missing from the dead letters. HOSTILE_N, HOSTILE_SEED and HOSTILE_WINDOW change it.
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { startNatsServer } from '../src/testing/nats-server.js'
import { startWorkerProcess } from '../test/helpers/worker-process.js'
import { RawPublisher } from '../test/helpers/raw-nats.js'
import { hostileTraffic, rssKb, sendTraffic } from '../test/helpers/hostile-messages.js'
import { table } from './stats.js'

const N = Number(process.env.HOSTILE_N ?? 100_000)
const SEED = Number(process.env.HOSTILE_SEED ?? 19)
const WINDOW = Number(process.env.HOSTILE_WINDOW ?? 256)
const ROUND = 5_000
const fixture = fileURLToPath(new URL('../test/fixtures/hostile-app.ts', import.meta.url))

const server = await startNatsServer()
process.env.CELERIAC_BROKER_URL = server.url
process.env.CELERIAC_RESULT_BACKEND = 'nats://'
const { app } = await import('../test/fixtures/hostile-app.js')
const worker = await startWorkerProcess({ app: fixture, hostname: 'hostile-bench@%h', args: ['-c', '2', '--loglevel', 'error'], env: { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: 'nats://' } })
const raw = await RawPublisher.open(server.url)
const nc = await connect({ servers: server.url })
const jsm = await jetstreamManager(nc)
const pid = worker.child.pid!
const rssStart = rssKb(pid)
let rssPeak = rssStart
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKb(pid))), 250)

try {
  const totals = { valid: 0, succeeded: 0, refused: 0, found: 0, raw: 0, rawFound: 0, accepted: 0, letters: 0 }
  let sentS = 0
  let doneS = 0
  // Rounds: the dead-letter stream keeps 10,000 letters a queue, so each round's are checked, then purged.
  for (let round = 0; round * ROUND < N; round++) {
    const traffic = hostileTraffic(Math.min(ROUND, N - round * ROUND), SEED + round, 3, `bench${round}`)
    const began = performance.now()
    await sendTraffic(await app.transport(), raw, traffic, WINDOW)
    sentS += (performance.now() - began) / 1000
    const valid = traffic.flatMap((m) => (m.kind === 'valid' ? [m] : []))
    for (let i = 0; i < valid.length; i += WINDOW) {
      const values = await Promise.all(valid.slice(i, i + WINDOW).map((m) => app.asyncResult(m.id).get({ timeout: 120 }).then((v) => v === m.x + 1, () => false)))
      totals.succeeded += values.filter(Boolean).length
    }
    const refused = traffic.flatMap((m) => (m.kind === 'refused' ? [m] : []))
    const rawHeaders = traffic.flatMap((m) => (m.kind === 'raw-headers' ? [m] : []))
    // Every refused message must be there; accepted garbage (an unregistered task name...) may add more.
    const count = async () => {
      const letters = await app.deadLetters('celery')
      const byBody = new Map<string, string[]>()
      for (const letter of letters) {
        const key = Buffer.from(letter.body).toString('base64')
        byBody.set(key, [...(byBody.get(key) ?? []), letter.reason])
      }
      const found = refused.filter((m) => byBody.get(Buffer.from(m.frame).toString('base64'))?.includes(m.reason)).length
      const rawFound = rawHeaders.filter((m) => byBody.get(Buffer.from(m.payload).toString('base64'))?.some((reason) => m.reason.test(reason))).length
      return { letters: letters.length, found, rawFound }
    }
    let seen = await count()
    for (const deadline = Date.now() + 120_000; (seen.found < refused.length || seen.rawFound < rawHeaders.length) && Date.now() < deadline; seen = await count()) {
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    doneS += (performance.now() - began) / 1000
    Object.assign(totals, {
      valid: totals.valid + valid.length,
      refused: totals.refused + refused.length,
      found: totals.found + seen.found,
      raw: totals.raw + rawHeaders.length,
      rawFound: totals.rawFound + seen.rawFound,
      accepted: totals.accepted + traffic.length - valid.length - refused.length - rawHeaders.length,
      letters: totals.letters + seen.letters,
    })
    await jsm.streams.purge('CELERIAC_DLQ')
  }
  const up = worker.child.exitCode === null && worker.child.signalCode === null
  const mb = (kb: number) => (kb / 1024).toFixed(1)

  console.log(`hostile traffic: ${N.toLocaleString('en-US')} messages, seed ${SEED}, worker -c 2 on nats-server, window ${WINDOW}, rounds of ${ROUND}\n`)
  console.log(table([
    { messages: 'valid tasks', sent: totals.valid, outcome: `${totals.succeeded} succeeded with their value` },
    { messages: 'refused frames', sent: totals.refused, outcome: `${totals.found} dead-lettered with their reason` },
    { messages: 'unparseable NATS headers', sent: totals.raw, outcome: `${totals.rawFound} dead-lettered with their reason` },
    { messages: 'mutated but decodable', sent: totals.accepted, outcome: 'ran, failed or dead-lettered' },
    { messages: 'dead letters in all', sent: '', outcome: String(totals.letters) },
  ]))
  console.log()
  console.log(table([
    { figure: 'worker process', value: up ? 'up' : `exited (${worker.child.exitCode ?? worker.child.signalCode})` },
    { figure: 'publishing, s', value: sentS.toFixed(1) },
    { figure: 'published to all settled and checked, s', value: doneS.toFixed(1) },
    { figure: 'messages/s end to end', value: Math.round(N / doneS).toLocaleString('en-US') },
    { figure: 'worker RSS start / peak / end, MiB', value: `${mb(rssStart)} / ${mb(rssPeak)} / ${mb(rssKb(pid))}` },
  ]))
  if (!up || totals.succeeded !== totals.valid || totals.found !== totals.refused || totals.rawFound !== totals.raw) process.exitCode = 1
} finally {
  clearInterval(sampler)
  raw.close()
  await nc.close()
  await worker.stop('SIGKILL')
  await app.close()
  await server.cleanup()
}
