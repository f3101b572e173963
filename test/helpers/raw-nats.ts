import { connect as tcp } from 'node:net'

/**
 * Publishes one message with a hand-written header block on a raw NATS protocol connection:
 * `HPUB <subject> <header bytes> <total bytes>`. The client library refuses to build the
 * malformed headers a hostile publisher can send (a space in a name, a bare CR or LF), and the
 * server stores them as they are; so this is how such a message reaches a queue's stream.
 * Resolves once the server answered a PING after it (it has processed the publish).
 */
export async function rawPublish(url: string, subject: string, headerBlock: string, payload: Uint8Array): Promise<void> {
  const { hostname, port } = new URL(url)
  const socket = tcp({ host: hostname, port: Number(port) })
  const head = Buffer.from(headerBlock, 'latin1')
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = ''
      let sent = false
      socket.on('error', reject)
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.toString('latin1')
        if (seen.includes('-ERR')) return reject(new Error(`the server refused the raw publish: ${seen}`))
        if (!sent && seen.includes('INFO ')) {
          sent = true
          socket.write('CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n')
          socket.write(`HPUB ${subject} ${head.byteLength} ${head.byteLength + payload.byteLength}\r\n`)
          socket.write(Buffer.concat([head, payload, Buffer.from('\r\nPING\r\n')]))
        }
        if (sent && seen.includes('PONG')) resolve()
      })
    })
  } finally {
    socket.destroy()
  }
}

/** Header blocks a hostile publisher can send, and what the dead letter says of each. */
export const BAD_HEADERS: [name: string, block: string, reason: RegExp][] = [
  ['a space in a header name', 'NATS/1.0\r\nBad Name: x\r\n\r\n', /^unreadable NATS headers: .*' ' is not a valid character in a header name/],
  ['a bare CR in a value', 'NATS/1.0\r\nCeleriac-Priority: 1\rX: y\r\n\r\n', /^unreadable NATS headers: .*values cannot contain \\r or \\n/],
  ['a bare LF in a value', 'NATS/1.0\r\nCeleriac-Priority: 1\nX: y\r\n\r\n', /^unreadable NATS headers: .*values cannot contain \\r or \\n/],
  ['a bad %-escape', 'NATS/1.0\r\nCeleriac-Exchange: %ZZ\r\nCeleriac-Routing-Key: k\r\n\r\n', /^unreadable NATS headers: URI malformed$/],
]
