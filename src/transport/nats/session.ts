import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { type NatsConnection, type Status } from '@nats-io/transport-node'
import { refusalIn } from './permission-watch.js'
import { ConfigError, TransportError } from '../../errors.js'
import { startupRequests, STARTUP_RETRY_MS } from './connect.js'
import type { Clock } from '../../util/clock.js'
import type { OutgoingMessage } from '../transport.js'
import { DeadLetters } from './dead-letters.js'
import { Header, type Names } from './names.js'
import type { QueueStreamContext } from './queue-stream.js'
import { RateLimits } from './rate-limits.js'
import { openBucket, replicasFor } from './replicas.js'
import { JsPublishError, NatsRequestError, requestsOf, type Requests } from './requests.js'
import { RevokedStore } from './revoked.js'
import { Topology } from './topology.js'
import type { HeaderFields } from './wire.js'

/** Everything a connected transport holds on its NATS connection. */
export interface Session {
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  names: Names
  topology: Topology
  deadLetters: DeadLetters
  revoked: RevokedStore
  /** Cluster-wide rate limits; their bucket is created on first use. */
  rateLimits: RateLimits
  /** Publish acks through one reply subscription (see requests.ts). */
  requests: Requests
  streams: QueueStreamContext
  /** Copies JetStream keeps of each stream, bucket and consumer this session creates. */
  replicas: number
  /** The connection's status events; stopped when the transport closes. */
  status: AsyncIterable<Status> & { stop?: () => void }
}

/**
 * Sets a transport up on `nc`: loads the topology and creates the dead-letter stream.
 *
 * @remarks
 * Each JetStream request is asked again while the cluster cannot answer yet (a leader election
 * after a server was lost), for {@link STARTUP_RETRY_MS} in all; `onRetry` is told once when
 * that starts. A refusal or a config error fails at once.
 */
export async function openSession(
  nc: NatsConnection,
  names: Names,
  clock: Clock,
  duplicateWindowMs: number,
  configuredReplicas?: number,
  onRetry?: (what: string, reason: string, error: unknown) => void,
): Promise<Session> {
  const replicas = replicasFor(nc, configuredReplicas)
  const ask = startupRequests(nc, { onRetry })
  try {
    const js = jetstream(nc)
    const jsm = await ask('the JetStream account info request ($JS.API.INFO)', () => jetstreamManager(nc))
    const kvm = new Kvm(nc)
    const topologyStream = `KV_${names.topologyBucket}`
    // create() opens the bucket when it exists, keeping its configuration.
    const kv = await ask(`opening the topology bucket (stream ${topologyStream})`, () => openBucket(kvm, jsm, names.topologyBucket, { history: 1 }, replicas, 'the topology bucket'))
    const topology = await ask(`loading the topology bucket (stream ${topologyStream})`, async () => {
      // A fresh mirror each try: a watch left from a failed one must not run on.
      const topology = new Topology(kv)
      await topology.start().catch((error: unknown) => {
        topology.stop()
        throw error
      })
      return topology
    })
    const deadLetters = new DeadLetters(js, jsm, names, replicas)
    try {
      await ask(`opening the dead-letter stream ${names.deadLetterStream}`, () => deadLetters.ensure())
    } catch (error) {
      topology.stop()
      throw error
    }
    const streams = { jsm, names, duplicateWindowMs, replicas, now: () => clock.now() }
    const revoked = new RevokedStore(kvm, jsm, names.revokedBucket, clock, replicas)
    const rateLimits = new RateLimits(kvm, jsm, names.rateBucket, clock, replicas)
    return { nc, js, jsm, names, topology, deadLetters, revoked, rateLimits, requests: requestsOf(nc), streams, replicas, status: nc.status() }
  } catch (error) {
    if (error instanceof ConfigError) throw error
    throw new TransportError(`cannot set up the NATS transport: ${(error as Error).message}`, { cause: error })
  }
}

/** The headers of a message, the same for every queue it goes to; none in the common case. */
export function messageHeaders(message: OutgoingMessage): HeaderFields | undefined {
  const { exchange, notBefore, priority } = message
  if (exchange === '' && notBefore === undefined && !priority) return undefined
  const h: HeaderFields = {}
  if (exchange !== '') {
    h[Header.Exchange] = encodeURIComponent(exchange)
    h[Header.RoutingKey] = encodeURIComponent(message.routingKey)
  }
  // The server keeps the time with the message, so a delay outlives every node's memory.
  if (notBefore !== undefined) h[Header.NotBefore] = String(Math.ceil(notBefore))
  if (priority) h[Header.Priority] = String(priority)
  return h
}

/**
 * How long a publish keeps trying while JetStream cannot store it: a stream without a leader
 * (JetStream elects one in 4-9 s after its server is lost) or a connection moving to another
 * server. Past it the send fails with a TransportError; nothing is ever lost in silence.
 */
const STORE_RETRY_MS = 20_000
/** Each retry's own wait for the ack: shorter than the first, so a retry comes while a leader is elected. */
const RETRY_ACK_TIMEOUT_MS = 2_000

/**
 * Stores one copy in a queue; false when its stream saw the `msgId` within the window.
 *
 * @remarks
 * A publish that got no answer (timeout, no responders, 503) is sent again with the same
 * `msgId`, so the stream keeps one copy whatever happened to the first. A retry the stream
 * reports as a duplicate is that first copy, stored after all: it counts as stored. Without a
 * `msgId` a retry could store twice, so there is none.
 */
export function storeCopy(session: Session, queue: string, message: OutgoingMessage, fields: HeaderFields | undefined): Promise<boolean> {
  const h = message.msgId === undefined ? fields : { ...fields, [Header.MsgId]: message.msgId }
  const subject = session.names.queueSubject(queue)
  const giveUpAt = performance.now() + STORE_RETRY_MS
  // The first try without an async frame: it is every send's, and nearly always the last.
  return session.requests.publish(subject, message.body, h).then(
    (ack) => ack.duplicate !== true,
    (error: unknown) => storeAgain(session, queue, subject, message, h, error, giveUpAt),
  )
}

/** {@link storeCopy}'s retries, after its first publish failed with `error`. */
async function storeAgain(session: Session, queue: string, subject: string, message: OutgoingMessage, h: HeaderFields | undefined, error: unknown, giveUpAt: number): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const refused = refusalIn(error)
    if (refused !== undefined) throw refused
    if (message.msgId === undefined || !unanswered(error) || session.nc.isClosed() || performance.now() >= giveUpAt) {
      throw new TransportError(`cannot publish to queue "${queue}": ${(error as Error).message}`, { cause: error })
    }
    await delay(Math.min(1_000, 100 * 2 ** attempt))
    try {
      await session.requests.publish(subject, message.body, h, RETRY_ACK_TIMEOUT_MS)
      // Stored now, or by the first try after all (then the stream calls this one a duplicate).
      return true
    } catch (next) {
      error = next
    }
  }
}

/** A publish JetStream did not answer, as opposed to one it refused. */
function unanswered(error: unknown): boolean {
  if (error instanceof NatsRequestError) return error.reason !== 'closed'
  return error instanceof JsPublishError && error.code === 503
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Room left under the server's max_payload for a message's NATS headers (ids, routing, Not-Before). */
const HEADER_ROOM_BYTES = 512

/**
 * Refuses, before anything is sent, a message the server would refuse: its `max_payload` (1 MB
 * by default) bounds a message with its headers, and the server answers a bigger one by closing
 * the connection.
 */
export function checkPayload(nc: NatsConnection, message: OutgoingMessage): void {
  const limit = nc.info?.max_payload
  if (limit === undefined || message.body.byteLength + HEADER_ROOM_BYTES <= limit) return
  throw new TransportError(
    `message of ${message.body.byteLength} bytes to ${message.exchange === '' ? `queue "${message.routingKey}"` : `exchange "${message.exchange}"`} is over the NATS server's max_payload of ${limit} bytes (less ${HEADER_ROOM_BYTES} for headers): ` +
      'pass large data by reference (a URL, an object store key), or raise max_payload in the server config',
    { data: { bytes: message.body.byteLength, maxPayload: limit } },
  )
}
