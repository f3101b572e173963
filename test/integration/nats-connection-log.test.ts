// Found by an outside operator audit: a worker said nothing when its NATS server died or when it
// reconnected, only "fetching from the queue failed" with nats.js's stack; and a setup request
// that JetStream did not answer failed with a bare "timeout", naming neither request nor server.
import t from 'tap'
import { connect, Empty } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { Latch } from '../../src/testing/latch.js'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { NatsTransport } from '../../src/transport/nats/nats-transport.js'
import { startupRequests } from '../../src/transport/nats/connect.js'
import type { Logger } from '../../src/util/logger.js'

let server: NatsServer
t.before(async () => {
  server = await startNatsServer()
})
t.teardown(() => server?.cleanup())

type Line = { level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> }

/** A logger that keeps every line; `onLine` sees each as it comes. */
function keeping(onLine: (line: Line) => void = () => {}): Logger & { lines: Line[] } {
  const lines: Line[] = []
  const keep = (level: Line['level']) => (message: string, fields?: Record<string, unknown>) => {
    const line = { level, message, fields }
    lines.push(line)
    onLine(line)
  }
  return { lines, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') }
}

t.test('a worker transport logs one warn when its server dies and one info naming the server it reconnected to', async (t) => {
  const reconnected = new Latch<void>(1, 20_000)
  const log = keeping((line) => line.message.startsWith('reconnected') && reconnected.unlock())
  const transport = new NatsTransport({ url: server.url, prefix: `log${process.pid}`, logger: log })
  await transport.connect()
  t.teardown(() => transport.close())
  await transport.declareQueue({ name: 'q' })
  const arrived = new Latch<string>(1, 20_000)
  // An open pull request, as an idle worker has, when the server is killed.
  transport.consume('q', (delivery) => {
    arrived.unlock(new TextDecoder().decode(delivery.body))
    delivery.ack()
  }).pull(1)
  await new Promise((resolve) => setTimeout(resolve, 200))

  await server.restart('SIGKILL')
  await reconnected.promise
  await transport.publish({ exchange: '', routingKey: 'q', body: new TextEncoder().encode('after') })
  t.same(await arrived.promise, ['after'], 'the consumer goes on after the reconnect')

  const about = log.lines.filter((l) => /^(dis|re)connected/.test(l.message))
  t.equal(about.length, 2, `one line per event: ${JSON.stringify(about.map((l) => l.message))}`)
  t.same([about[0].level, about[0].message], ['warn', `disconnected from nats://127.0.0.1:${server.port}; reconnecting`])
  t.equal(about[1].level, 'info')
  t.match(about[1].message, new RegExp(`^reconnected to nats://127\\.0\\.0\\.1:${server.port} \\(server \\w+\\)$`))
  // pino prints an Error field with its whole stack; a failover is worth a one-line reason.
  const withErrors = log.lines.filter((l) => Object.values(l.fields ?? {}).some((v) => v instanceof Error))
  t.same(withErrors.map((l) => l.message), [], 'no line carries an Error (and its nats.js stack)')
})

t.test('a setup request JetStream does not answer fails, past the bound, naming the request and the server', async (t) => {
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  // Heard but never answered: each request times out, as during a leader election.
  nc.subscribe('silent.api', { callback: () => {} })
  await nc.flush()
  const retried: string[] = []
  const ask = startupRequests(nc, { totalMs: 1_000, onRetry: (what, reason) => retried.push(`${what} ${reason}`) })
  const started = performance.now()
  const error = await ask('asking the silent API', () => nc.request('silent.api', Empty, { timeout: 200 })).catch((e: unknown) => e as Error)
  const elapsed = performance.now() - started
  t.ok(error instanceof Error, 'it fails')
  t.match((error as Error).message, new RegExp(`^asking the silent API timed out against nats://127\\.0\\.0\\.1:${server.port} \\(server \\w+\\), still after 1 s of retries`))
  t.same(retried, ['asking the silent API timed out'], 'told once that it retries')
  t.ok(elapsed >= 900 && elapsed < 5_000, `it waited about the bound (${Math.round(elapsed)} ms)`)

  // An answer that is a refusal (here: no such stream) is thrown at once, unchanged.
  const jsm = await jetstreamManager(nc)
  const at = performance.now()
  await t.rejects(startupRequests(nc)('reading a missing stream', () => jsm.streams.info('NO_SUCH_STREAM')), { name: 'StreamNotFoundError' })
  t.ok(performance.now() - at < 1_000, 'without retrying')
})
