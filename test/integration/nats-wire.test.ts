/**
 * The hot path's publishes (wire.ts) against a real nats-server: what a subscriber receives is
 * what `nc.publish` would have delivered, headers and reply included, and bad input is refused
 * as nats.js refuses it.
 */
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node'
import t, { type Test } from 'tap'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { wireOf, type Wire } from '../../src/transport/nats/wire.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

let server: NatsServer
t.before(async () => {
  server = await startNatsServer()
})
t.teardown(() => server?.cleanup())

async function connection(t: Test): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  return nc
}

/**
 * A message as received, its data as a plain Uint8Array: the client hands a Node Buffer for a
 * message that came in one socket read, and tap does not count a Buffer the same as the
 * Uint8Array sent (it failed about 1 run in 3 under load, by which read the message came in).
 */
type Received = Pick<Msg, 'subject' | 'reply' | 'headers' | 'data'>

/** Subscribes to `subject` and resolves with the first `count` messages. */
async function receive(nc: NatsConnection, subject: string, count: number): Promise<() => Promise<Received[]>> {
  const got: Received[] = []
  let done!: (msgs: Received[]) => void
  const all = new Promise<Received[]>((resolve) => (done = resolve))
  nc.subscribe(subject, {
    max: count,
    callback: (_, msg) => {
      if (got.push({ subject: msg.subject, reply: msg.reply, headers: msg.headers, data: new Uint8Array(msg.data) }) === count) done(got)
    },
  })
  await nc.flush()
  return () => all
}

/** The same connection seen without nats.js's internals: the wire falls back to `nc.publish`. */
function withoutInternals(nc: NatsConnection): NatsConnection {
  return new Proxy(nc, {
    get: (target, key) => {
      if (key === 'protocol') return undefined
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

for (const [name, wireFor] of [
  ['written into the outbound buffer', (nc: NatsConnection) => wireOf(nc)],
  ['through nc.publish (no internals)', (nc: NatsConnection) => wireOf(withoutInternals(nc))],
] as const) {
  t.test(`wire ${name} - subscribers get subject, reply, headers and data as sent`, async (t) => {
    const [sender, listener] = [await connection(t), await connection(t)]
    const wire: Wire = wireFor(sender)
    const messages = await receive(listener, 'wire.>', 4)
    wire.publish('wire.plain', encoder.encode('one'))
    wire.publish('wire.reply', encoder.encode('two'), '_INBOX.abc.1')
    wire.publish('wire.headers', encoder.encode('three'), '_INBOX.abc.2', { 'Nats-Msg-Id': 'task-3', 'Celeriac-Exchange': 'fan%20out' })
    wire.publish('wire.empty', new Uint8Array(0), undefined, { 'Celeriac-Priority': '7' })
    const [plain, reply, headed, empty] = await messages()
    t.same([plain.subject, plain.reply, decoder.decode(plain.data), plain.headers], ['wire.plain', '', 'one', undefined])
    t.same([reply.subject, reply.reply, decoder.decode(reply.data)], ['wire.reply', '_INBOX.abc.1', 'two'])
    t.same([headed.reply, decoder.decode(headed.data), headed.headers?.get('Nats-Msg-Id'), headed.headers?.get('Celeriac-Exchange')], ['_INBOX.abc.2', 'three', 'task-3', 'fan%20out'])
    t.same([empty.data.byteLength, empty.headers?.get('Celeriac-Priority')], [0, '7'])
  })

  t.test(`wire ${name} - non-ASCII subjects and header values, and payloads past one chunk, arrive whole`, async (t) => {
    const [sender, listener] = [await connection(t), await connection(t)]
    const wire = wireFor(sender)
    const big = new Uint8Array(40_000).map((_, i) => i % 251)
    const count = 30
    const messages = await receive(listener, 'wire.ü.>', count)
    for (let i = 0; i < count; i++) wire.publish(`wire.ü.${i}`, i % 3 === 0 ? big : encoder.encode(`m${i}`), undefined, { 'Celeriac-Routing-Key': `clé-${i}` })
    const got = await messages()
    t.same(
      got.map((m) => m.subject),
      Array.from({ length: count }, (_, i) => `wire.ü.${i}`),
      'every message, in order',
    )
    t.same(got[3].data, big, 'a payload larger than a chunk arrives byte for byte')
    t.equal(decoder.decode(got[4].data), 'm4')
    t.equal(got[5].headers?.get('Celeriac-Routing-Key'), 'clé-5')
  })

  t.test(`wire ${name} - refuses what nats.js refuses, and sends nothing for it`, async (t) => {
    const [sender, listener] = [await connection(t), await connection(t)]
    const wire = wireFor(sender)
    const messages = await receive(listener, 'wire.>', 1)
    t.throws(() => wire.publish('wire.a b', encoder.encode('x')), /subject/i, 'whitespace in the subject')
    t.throws(() => wire.publish('', encoder.encode('x')), /subject/i, 'an empty subject')
    t.throws(() => wire.publish('wire.x', encoder.encode('x'), 'reply with space'), /subject/i, 'whitespace in the reply subject')
    t.throws(() => wire.publish('wire.x', encoder.encode('x'), undefined, { 'Nats-Msg-Id': 'a\r\nInjected: 1' }), /\\r or \\n|CR and LF/, 'CR or LF in a header value')
    const max = sender.info!.max_payload
    t.throws(() => wire.publish('wire.x', new Uint8Array(max + 1)), /max_payload/, 'a payload over max_payload')
    wire.publish('wire.after', encoder.encode('after'))
    const [only] = await messages()
    t.equal(only.subject, 'wire.after', 'none of the refused publishes reached the server')
    await sender.close()
    t.throws(() => wire.publish('wire.x', encoder.encode('x')), /closed/i, 'a closed connection')
  })
}

t.test('wire - keeps its place among nats.js publishes on the same connection', async (t) => {
  const [sender, listener] = [await connection(t), await connection(t)]
  const wire = wireOf(sender)
  const messages = await receive(listener, 'order.>', 6)
  for (let i = 0; i < 6; i++) {
    if (i % 2 === 0) wire.publish(`order.${i}`, encoder.encode(String(i)))
    else sender.publish(`order.${i}`, encoder.encode(String(i)))
  }
  t.same(
    (await messages()).map((m) => m.subject),
    ['order.0', 'order.1', 'order.2', 'order.3', 'order.4', 'order.5'],
  )
  t.equal(sender.stats().outMsgs, 6, 'counted in the connection stats as nats.js counts its own')
})
