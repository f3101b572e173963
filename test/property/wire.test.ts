import fc from 'fast-check'
import t from 'tap'
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node'
import { wireOf } from '../../src/transport/nats/wire.js'

const encoder = new TextEncoder()

/** A connection as far as the wire reaches into it, recording what it is handed. */
function recordingConnection(): { nc: NatsConnection; sent: Uint8Array[] } {
  const sent: Uint8Array[] = []
  const protocol = { sendCommand: (bytes: Uint8Array) => sent.push(bytes.slice()), noMorePublishing: false, outMsgs: 0, outBytes: 0 }
  const nc = { protocol, isClosed: () => false, info: { max_payload: 1 << 20 } } as unknown as NatsConnection
  return { nc, sent }
}

/** The bytes nats.js 3.4's `publish` queues for the same message (protocol.js: line, header block from MsgHdrs, data, CRLF). */
function natsBytes(subject: string, data: Uint8Array, reply: string | undefined, fields: [string, string][] | undefined): Uint8Array {
  // No fields: the wire sends a plain PUB, where nats.js would send an HPUB with an empty block.
  if (fields?.length === 0) fields = undefined
  let block: Uint8Array = new Uint8Array(0)
  if (fields !== undefined) {
    const h = natsHeaders()
    for (const [name, value] of fields) h.set(name, value)
    block = (h as unknown as { encode(): Uint8Array }).encode()
  }
  const size = block.length + data.length
  const line = fields === undefined ? `PUB ${subject}${reply ? ` ${reply}` : ''} ${size}\r\n` : `HPUB ${subject}${reply ? ` ${reply}` : ''} ${block.length} ${size}\r\n`
  return Uint8Array.from([...encoder.encode(line), ...block, ...data, 13, 10])
}

const token = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_$-]{1,8}$/), fc.constantFrom('ü', 'clé', '日本', '*', '>'))
const subject = fc.array(token, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.'))
const name = fc.constantFrom('Nats-Msg-Id', 'Celeriac-Exchange', 'Celeriac-Routing-Key', 'Celeriac-Not-Before', 'Celeriac-Priority')
const value = fc.oneof(fc.stringMatching(/^[ -~]{0,20}$/), fc.constantFrom(' padded ', 'ü', '0f8fad5b-d9cb-469f-a165-70867728950e', '1765000000000'))
const fields = fc.uniqueArray(fc.tuple(name, value), { maxLength: 4, selector: ([n]) => n })

t.test('wire property - the bytes written are the bytes nats.js would queue', async (t) => {
  fc.assert(
    fc.property(subject, fc.option(subject, { nil: undefined }), fc.option(fields, { nil: undefined }), fc.uint8Array({ maxLength: 300 }), (subj, reply, hdrs, data) => {
      const { nc, sent } = recordingConnection()
      wireOf(nc).publish(subj, data, reply, hdrs === undefined ? undefined : Object.fromEntries(hdrs))
      return sent.length === 1 && Buffer.from(sent[0]).equals(natsBytes(subj, data, reply, hdrs))
    }),
    { numRuns: 2000 },
  )
  t.pass('2000 publishes, each byte for byte')
})

t.test('wire property - publishes past a chunk each arrive whole, in order', async (t) => {
  const { nc, sent } = recordingConnection()
  const wire = wireOf(nc)
  const sizes = [100, 16_000, 5, 40_000, 16_384, 0, 3]
  sizes.forEach((size, i) => wire.publish(`s.${i}`, new Uint8Array(size).fill(i), `r.${i}`, { 'Nats-Msg-Id': `id-${i}` }))
  t.same(
    sent,
    sizes.map((size, i) => natsBytes(`s.${i}`, new Uint8Array(size).fill(i), `r.${i}`, [['Nats-Msg-Id', `id-${i}`]])),
  )
})
