import fc from 'fast-check'
import t from 'tap'
import { MsgHdrsImpl } from '@nats-io/nats-core/internal'
import { fromMsgHdrs, scan } from '../../src/transport/nats/delivered-headers.js'
import { Header } from '../../src/transport/nats/names.js'

/** What nats.js makes of a block: its fields, or the message of what it throws. */
function viaNats(text: string): unknown {
  try {
    return fromMsgHdrs(MsgHdrsImpl.decode(new TextEncoder().encode(text)))
  } catch (error) {
    return { threw: (error as Error).message }
  }
}

const names = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(Header.MsgId, Header.NotBefore, Header.Priority, Header.Exchange, Header.RoutingKey) }, { weight: 1, arbitrary: fc.constantFrom('Other-Name', 'Bad Name', 'nats-msg-id', '') })
const values = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', ' padded ', 'a\rb', 'a\nb', 'ü', '%20', ':', '0f8fad5b-d9cb-469f-a165-70867728950e'))
const line = fc.oneof({ weight: 8, arbitrary: fc.tuple(names, values).map(([n, v]) => `${n}: ${v}\r\n`) }, { weight: 1, arbitrary: fc.constantFrom('\r\n', 'no colon\r\n', ':x\r\n') })
const status = fc.oneof({ weight: 8, arbitrary: fc.constant('NATS/1.0\r\n') }, { weight: 1, arbitrary: fc.constantFrom('NATS/1.0 503 No Responders\r\n', 'NATS/1.0\n') })
const block = fc.tuple(status, fc.array(line, { maxLength: 4 })).map(([status, lines]) => `${status}${lines.join('')}\r\n`)

t.test('delivered headers property - a block scanned gives what nats.js gives, and any block it is not sure of goes to nats.js', async (t) => {
  let scanned = 0
  fc.assert(
    fc.property(block, (text) => {
      const fields = scan(text)
      if (fields === undefined) return true
      scanned++
      const expected = viaNats(text)
      return JSON.stringify(fields) === JSON.stringify(expected)
    }),
    { numRuns: 3000 },
  )
  t.ok(scanned > 600, `the scan answered for ${scanned} of 3000 blocks itself`)
})

t.test('delivered headers - the blocks celeriac sends are read without nats.js', async (t) => {
  t.same(scan('NATS/1.0\r\nNats-Msg-Id: 0f8f-1\r\n\r\n'), { notBefore: '', priority: '', exchange: undefined, routingKey: '', msgId: '0f8f-1' })
  t.same(scan('NATS/1.0\r\nCeleriac-Exchange: fan%20out\r\nCeleriac-Routing-Key: a.b\r\nCeleriac-Not-Before: 1765000000000\r\nCeleriac-Priority: 7\r\nNats-Msg-Id: x\r\n\r\n'), {
    notBefore: '1765000000000',
    priority: '7',
    exchange: 'fan%20out',
    routingKey: 'a.b',
    msgId: 'x',
  })
  t.same(scan('NATS/1.0\r\nNats-Msg-Id: first\r\nNats-Msg-Id: second\r\n\r\n')?.msgId, 'first', 'the first of a name counts, as MsgHdrs.get answers')
  t.equal(scan('NATS/1.0\r\nBad Name: x\r\n\r\n'), undefined, 'a name nats.js refuses goes to nats.js (which throws)')
  t.equal(scan('NATS/1.0\r\nCeleriac-Priority: 1\rX: y\r\n\r\n'), undefined, 'a bare CR goes to nats.js')
  t.equal(scan('NATS/1.0 503\r\n\r\n'), undefined, 'a status line goes to nats.js')
})
