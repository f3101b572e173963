// Found by an outside audit: `not json` written as the value of <app>.entry.a in the
// celeriac-beat KV bucket stopped every entry of the app (a "beat: check failed ... SyntaxError"
// every second, naming neither the entry nor the key), and a value of {} stopped entry a for
// good, silently.
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { Kvm } from '@nats-io/kv'
import { createApp, type Logger } from '../../src/index.js'
import { decodeHeaders } from '../../src/protocol/envelope.js'
import { BEAT_BUCKET, NatsBeatStore } from '../../src/beat/nats-store.js'
import { startNatsServer } from '../../src/testing/nats-server.js'
import { Latch } from '../../src/testing/latch.js'

t.test('beat on NATS - unreadable last runs in the KV bucket are taken as never run, named with their key, and overwritten; every entry runs', async (t) => {
  const server = await startNatsServer()
  t.teardown(() => server.cleanup())
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  // The bucket made as a beat makes it, then values put into it as any KV client would.
  await new NatsBeatStore(nc, 'beatcorrupt').create('entry.seed', '{}')
  const kv = await new Kvm(nc).open(BEAT_BUCKET)
  await kv.put('beatcorrupt.entry.a', 'not json')
  await kv.put('beatcorrupt.entry.c', '{}')

  const lines: string[] = []
  const write = (level: string) => (message: string) => void lines.push(`${level} ${message}`)
  const logger: Logger = { debug: write('DEBUG'), info: write('INFO'), warn: write('WARN'), error: write('ERROR') }
  const tick = { task: 't.tick', schedule: 1 }
  const app = createApp({ name: 'beatcorrupt', broker: server.url, backend: 'memory://', logger, config: { beatSchedule: { a: tick, b: tick, c: tick }, beatLeaseTime: 2 } })
  t.teardown(() => app.close())
  const transport = await app.transport()
  await transport.declareQueue({ name: 'celery' })
  // Two firings of each entry: the second comes after the record was overwritten.
  const fired = { a: new Latch<string>(2), b: new Latch<string>(2), c: new Latch<string>(2) }
  transport.consume('celery', (delivery) => {
    const id = decodeHeaders(delivery.body).id
    fired[id.slice(0, id.indexOf(':')) as keyof typeof fired]?.unlock(id)
    delivery.ack()
  }).pull(100_000)

  const beat = app.beat()
  t.teardown(() => beat.stop())
  await beat.start()
  await Promise.all(Object.values(fired).map((latch) => latch.promise))
  await beat.stop()

  const warnings = lines.filter((line) => line.includes('cannot be read'))
  t.match(warnings, [
    /^WARN beat: entry a's last run \(key "beatcorrupt\.entry\.a" in KV bucket celeriac-beat\) cannot be read: not JSON: "not json"; taking it as never run, and overwriting it at the next run, \S+Z$/,
    /^WARN beat: entry c's last run \(key "beatcorrupt\.entry\.c" in KV bucket celeriac-beat\) cannot be read: at must be a time in epoch milliseconds, got undefined; taking it as never run/,
  ])
  t.equal(warnings.length, 2, 'one warning per record')
  t.same(lines.filter((line) => line.startsWith('ERROR')), [], 'no check failed')
  for (const name of ['a', 'c']) {
    const stored = JSON.parse((await kv.get(`beatcorrupt.entry.${name}`))!.string()) as { at: number; count: number }
    t.ok(stored.count >= 2 && Number.isFinite(stored.at), `entry.${name} overwritten by its runs: ${JSON.stringify(stored)}`)
  }
})
