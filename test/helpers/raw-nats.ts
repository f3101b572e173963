import { connect as tcp, type Socket } from 'node:net'

/**
 * A raw NATS protocol connection that publishes messages with hand-written header blocks:
 * `HPUB <subject> <header bytes> <total bytes>`. The client library refuses to build the
 * malformed headers a hostile publisher can send (a space in a name, a bare CR or LF), and the
 * server stores them as they are; so this is how such a message reaches a queue's stream.
 */
export class RawPublisher {
  readonly #socket: Socket
  #seen = ''
  #pongs = 0
  #waiting: { pongs: number; resolve: () => void; reject: (error: Error) => void }[] = []

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#seen += chunk.toString('latin1')
      if (this.#seen.includes('-ERR')) this.#fail(new Error(`the server refused a raw publish: ${this.#seen}`))
      let at: number
      while ((at = this.#seen.indexOf('PONG\r\n')) !== -1) {
        this.#seen = this.#seen.slice(at + 6)
        this.#pongs++
      }
      this.#waiting = this.#waiting.filter((w) => (w.pongs <= this.#pongs ? (w.resolve(), false) : true))
    })
    socket.on('error', (error) => this.#fail(error))
  }

  /** Connects to `url` (`nats://host:port`) and resolves once the server has taken CONNECT. */
  static async open(url: string): Promise<RawPublisher> {
    const { hostname, port } = new URL(url)
    const socket = tcp({ host: hostname, port: Number(port) })
    await new Promise<void>((resolve, reject) => {
      let info = ''
      const onData = (chunk: Buffer) => {
        info += chunk.toString('latin1')
        if (!info.includes('\r\n')) return
        socket.off('data', onData)
        resolve()
      }
      socket.on('data', onData)
      socket.once('error', reject)
    })
    const publisher = new RawPublisher(socket)
    socket.write('CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n')
    await publisher.flush()
    return publisher
  }

  /** Queues one message; {@link flush} confirms it. */
  publish(subject: string, headerBlock: string, payload: Uint8Array): void {
    const head = Buffer.from(headerBlock, 'latin1')
    this.#socket.write(`HPUB ${subject} ${head.byteLength} ${head.byteLength + payload.byteLength}\r\n`)
    this.#socket.write(Buffer.concat([head, payload, CRLF]))
  }

  /** Resolves once the server has processed everything published so far (a PING answered). */
  flush(): Promise<void> {
    const pongs = this.#pongs + this.#waiting.length + 1
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ pongs, resolve, reject })
      this.#socket.write('PING\r\n')
    })
  }

  close(): void {
    this.#socket.destroy()
  }

  #fail(error: Error): void {
    for (const w of this.#waiting) w.reject(error)
    this.#waiting = []
  }
}

const CRLF = Buffer.from('\r\n')

/** Publishes one message with a hand-written header block on its own raw connection (see {@link RawPublisher}). */
export async function rawPublish(url: string, subject: string, headerBlock: string, payload: Uint8Array): Promise<void> {
  const publisher = await RawPublisher.open(url)
  try {
    publisher.publish(subject, headerBlock, payload)
    await publisher.flush()
  } finally {
    publisher.close()
  }
}

/** Header blocks a hostile publisher can send, and what the dead letter says of each. */
export const BAD_HEADERS: [name: string, block: string, reason: RegExp][] = [
  ['a space in a header name', 'NATS/1.0\r\nBad Name: x\r\n\r\n', /^unreadable NATS headers: .*' ' is not a valid character in a header name/],
  ['a bare CR in a value', 'NATS/1.0\r\nCeleriac-Priority: 1\rX: y\r\n\r\n', /^unreadable NATS headers: .*values cannot contain \\r or \\n/],
  ['a bare LF in a value', 'NATS/1.0\r\nCeleriac-Priority: 1\nX: y\r\n\r\n', /^unreadable NATS headers: .*values cannot contain \\r or \\n/],
  ['a bad %-escape', 'NATS/1.0\r\nCeleriac-Exchange: %ZZ\r\nCeleriac-Routing-Key: k\r\n\r\n', /^unreadable NATS headers: URI malformed$/],
]
