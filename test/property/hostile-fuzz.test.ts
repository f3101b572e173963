/**
 * Issue 19's fuzz suite. First, the decoder alone: whatever a mutated frame holds, decoding it
 * either gives headers the schema accepts or throws a SerializationError (never a TypeError,
 * never a crash). Then a real worker process on a real nats-server takes a seeded stream of
 * hostile traffic (test/helpers/hostile-messages.ts) with valid tasks interleaved: the process
 * stays up, every valid task succeeds with its value, every refused message is in the
 * dead-letter stream with its reason, and its RSS stays bounded. CI runs the short seed below;
 * `FUZZ_SEED` and `FUZZ_COUNT` replay or lengthen a run; bench/hostile.ts runs 100,000.
 */
import fc from 'fast-check'
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { SerializationError } from '../../src/errors.js'
import { decodeMessage } from '../../src/protocol/envelope.js'
import { validateBody } from '../../src/protocol/validate-envelope.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { hostileTraffic, rssKb, sendTraffic } from '../helpers/hostile-messages.js'
import { RawPublisher } from '../helpers/raw-nats.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'

const SEED = Number(process.env.FUZZ_SEED ?? 19)
const COUNT = Number(process.env.FUZZ_COUNT ?? 150)

t.test('decoding a mutated frame gives valid headers or a SerializationError, nothing else', async (t) => {
  fc.assert(
    fc.property(fc.integer(), (seed) => {
      for (const message of hostileTraffic(20, seed)) {
        if (message.kind === 'raw-headers') continue
        try {
          const { body } = decodeMessage(message.frame)
          validateBody(msgpackCodec.decode(body))
        } catch (error) {
          if (!(error instanceof SerializationError)) throw error
        }
      }
    }),
    { seed: SEED, numRuns: 200 },
  )
  t.pass('no other error escaped the decoder')
})

type Fixture = typeof import('../fixtures/hostile-app.js')
const fixture = fileURLToPath(new URL('../fixtures/hostile-app.ts', import.meta.url))

t.test(`a worker process on NATS takes ${COUNT} hostile messages (seed ${SEED}) and stays up`, async (t) => {
  t.setTimeout(120_000)
  const server: NatsServer = await startNatsServer()
  process.env.CELERIAC_BROKER_URL = server.url
  process.env.CELERIAC_RESULT_BACKEND = 'nats://'
  const f: Fixture = await import('../fixtures/hostile-app.js')
  const worker: WorkerProcess = await startWorkerProcess({ app: fixture, hostname: 'fuzz@%h', args: ['-c', '2'], env: { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: 'nats://' } })
  const raw = await RawPublisher.open(server.url)
  t.teardown(async () => {
    raw.close()
    await worker.stop('SIGKILL')
    await f.app.close()
    await server.cleanup()
  })
  const rssBefore = rssKb(worker.child.pid!)
  const traffic = hostileTraffic(COUNT, SEED)
  await sendTraffic(await f.app.transport(), raw, traffic)

  const valid = traffic.filter((m) => m.kind === 'valid')
  const values = await Promise.all(valid.map((m) => f.app.asyncResult(m.id).get({ timeout: 30 })))
  t.same(values, valid.map((m) => m.x + 1), `all ${valid.length} valid tasks succeeded with their values`)

  const refused = traffic.filter((m) => m.kind === 'refused')
  const rawHeaders = traffic.filter((m) => m.kind === 'raw-headers')
  const letters = await lettersFor(f, refused.length + rawHeaders.length)
  const missing = refused.filter((m) => !letters.some((l) => l.reason === m.reason && Buffer.compare(Buffer.from(l.body), Buffer.from(m.frame)) === 0))
  t.same(missing.map((m) => m.reason), [], `all ${refused.length} refused frames are dead letters with their reason`)
  const rawMissing = rawHeaders.filter((m) => !letters.some((l) => m.reason.test(l.reason) && Buffer.compare(Buffer.from(l.body), Buffer.from(m.payload)) === 0))
  t.equal(rawMissing.length, 0, `all ${rawHeaders.length} messages with unparseable NATS headers are dead letters`)

  t.equal(worker.child.exitCode, null, 'the worker process is still up')
  t.equal(worker.child.signalCode, null)
  const growthMb = (rssKb(worker.child.pid!) - rssBefore) / 1024
  t.ok(growthMb < 200, `RSS grew ${growthMb.toFixed(1)} MiB (bounded)`)
})

async function lettersFor(f: Fixture, atLeast: number) {
  const deadline = Date.now() + 30_000
  for (;;) {
    const letters = await f.app.deadLetters('celery')
    if (letters.length >= atLeast || Date.now() > deadline) return letters
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
