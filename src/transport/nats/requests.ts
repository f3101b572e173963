/**
 * Requests on the hot path (JetStream publish acks, KV direct gets) through one reply
 * subscription per connection.
 *
 * @remarks
 * nats.js 3.4 builds a `RequestError` (an Error with a captured stack) when it settles every
 * request, successful or not, and arms a timer per request: together with the promise chain
 * around them that was a tenth of a busy client's main thread and much of its garbage. Here a
 * request is a publish with a reply subject under this connection's own inbox, one map entry,
 * and one promise; a single sweep every {@link SWEEP_MS} fails the requests past their deadline.
 * The subscription survives reconnects (nats.js re-subscribes); a reply lost in a disconnect
 * ends as a timeout, as it would with nats.js.
 * @module
 */
import { type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { inboxOf } from './connect.js'
import { permissionsOf } from './permission-watch.js'
import { wireOf, type HeaderFields, type Wire } from './wire.js'
import type { PermissionError } from '../../errors.js'

/** How often deadlines are checked: a timeout fires up to this much late. */
const SWEEP_MS = 100
/** JetStream's own default request timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000

/** Why a request failed: `timeout`, `no responders` (nothing listens on the subject), or `closed`. */
export class NatsRequestError extends Error {
  override readonly name = 'NatsRequestError'
  constructor(
    message: string,
    readonly reason: 'timeout' | 'no responders' | 'closed',
  ) {
    super(message)
  }
}

/** A JetStream publish the server answered with an error; `code` is its HTTP-like status. */
export class JsPublishError extends Error {
  override readonly name = 'JsPublishError'
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message)
  }
}

interface Pending {
  resolve: (msg: Msg) => void
  reject: (error: Error) => void
  sentAt: number
  deadline: number
  subject: string
}

/** A JetStream publish ack, as the server sends it. */
export interface JsPubAck {
  stream: string
  seq: number
  duplicate?: boolean
}

const byConnection = new WeakMap<NatsConnection, Requests>()
const decoder = new TextDecoder()

/** The ack in a JetStream publish's reply; throws the error the server answered with instead. */
function pubAck(msg: Msg): JsPubAck {
  const ack = JSON.parse(decoder.decode(msg.data)) as JsPubAck & { error?: { code: number; description: string } }
  if (ack.error !== undefined) throw new JsPublishError(`${ack.error.description} (${ack.error.code})`, ack.error.code)
  return ack
}

/** The one {@link Requests} of a connection, shared by the transport and the result backend. */
export function requestsOf(nc: NatsConnection): Requests {
  let requests = byConnection.get(nc)
  if (requests === undefined) byConnection.set(nc, (requests = new Requests(nc)))
  return requests
}

/** Request/reply on one connection through one wildcard reply subscription. */
export class Requests {
  readonly #nc: NatsConnection
  readonly #wire: Wire
  readonly #inbox: string
  readonly #pending = new Map<string, Pending>()
  #sub: Subscription | undefined
  #sweeper: ReturnType<typeof setInterval> | undefined
  #next = 0
  /** The shortest timeout asked for yet: how far {@link #sweep} must look past the last expired. */
  #shortest = Infinity

  constructor(nc: NatsConnection) {
    this.#nc = nc
    this.#wire = wireOf(nc)
    this.#inbox = inboxOf(nc)
    // Only on a refusal: the pending requests it concerns fail with it instead of timing out.
    permissionsOf(nc).on((refused) => this.#refused(refused))
  }

  /** Sends `data` to `subject` and resolves with the first reply; rejects with a {@link NatsRequestError}. */
  request(subject: string, data: Uint8Array, headers?: HeaderFields, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<Msg> {
    if (this.#nc.isClosed()) return Promise.reject(new NatsRequestError(`request to ${subject}: the connection is closed`, 'closed'))
    this.#sub ??= this.#subscribe()
    const token = (this.#next++).toString(36)
    const reply = `${this.#inbox}.${token}`
    const sentAt = performance.now()
    if (timeoutMs < this.#shortest) this.#shortest = timeoutMs
    const promise = new Promise<Msg>((resolve, reject) => {
      this.#pending.set(token, { resolve, reject, sentAt, deadline: sentAt + timeoutMs, subject })
    })
    this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS).unref()
    try {
      this.#wire.publish(subject, data, reply, headers)
    } catch (error) {
      // Refused before it left (a closed connection, a bad subject): a rejection, as for any other failure.
      this.#pending.delete(token)
      return Promise.reject(error)
    }
    return promise
  }

  /** A JetStream publish: the server's ack, or the error it answered with. */
  publish(subject: string, data: Uint8Array, headers?: HeaderFields, timeoutMs?: number): Promise<JsPubAck> {
    return this.request(subject, data, headers, timeoutMs).then(pubAck)
  }

  #refused(refused: PermissionError): boolean {
    const everything = refused.operation === 'subscribe' && refused.subject === `${this.#inbox}.*`
    let claimed = false
    for (const [token, pending] of this.#pending) {
      if (!everything && pending.subject !== refused.subject) continue
      this.#pending.delete(token)
      pending.reject(refused)
      claimed = true
    }
    return claimed
  }

  #subscribe(): Subscription {
    return this.#nc.subscribe(`${this.#inbox}.*`, {
      callback: (error, msg) => {
        if (error !== null) return
        const token = msg.subject.slice(this.#inbox.length + 1)
        const pending = this.#pending.get(token)
        if (pending === undefined) return
        this.#pending.delete(token)
        // The server answers a request that nobody hears with an empty 503 status message.
        if (msg.headers?.code === 503 && msg.data.length === 0) {
          pending.reject(new NatsRequestError(`request to ${pending.subject}: no responders`, 'no responders'))
        } else pending.resolve(msg)
      },
    })
  }

  #sweep(): void {
    const closed = this.#nc.isClosed()
    const now = performance.now()
    for (const [token, pending] of this.#pending) {
      if (!closed && pending.deadline > now) {
        // The map is in the order requests were sent: once one was sent less than the shortest
        // timeout ago, so was every later one, and none of them is due. A busy client has a
        // thousand requests pending, nearly all of them this young.
        if (pending.sentAt + this.#shortest > now) break
        continue
      }
      this.#pending.delete(token)
      pending.reject(closed ? new NatsRequestError(`request to ${pending.subject}: the connection is closed`, 'closed') : new NatsRequestError(`request to ${pending.subject} timed out`, 'timeout'))
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
    }
  }
}
