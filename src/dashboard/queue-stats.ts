/**
 * Queue figures read from the broker: what every transport answers (depth, dead letters), and
 * on NATS what JetStream's stream and consumer info add (in flight, redelivered, the oldest
 * message's age).
 * @module
 */
import { TransportError } from '../errors.js'
import type { DeadLetter, Transport } from '../transport/transport.js'
import type { NatsConnection } from '@nats-io/transport-node'

/** One queue as the Queues page shows it; `null` where the broker cannot tell. */
export interface QueueRow {
  name: string
  /** Messages waiting: ready now, plus the delayed ones when `delayed` is null (the transport's `depth`). */
  ready: number
  /** Waiting for a not-before time (countdown, eta, a retry's delay), when the transport tells them apart. */
  delayed: number | null
  /** Delivered and not yet acked. */
  inFlight: number | null
  /** Delivered more than once (NATS: the consumer's redelivered count). */
  redelivered: number | null
  /** Nodes consuming it (from their `inspect stats`). */
  consumers: number
  /** Seconds since the oldest ready message was sent (with a broker that cannot tell, the oldest message still in the queue). */
  oldestAgeSeconds: number | null
  /** Dead-lettered messages of this queue. */
  deadLetters: number
}

/** Where the queue figures come from. */
export interface QueueSource {
  transport(): Promise<Transport>
  /** The NATS connection of the broker, on NATS. */
  nats?(): Promise<NatsConnection>
  /** The prefix of the app's streams and buckets (`config.namespace`). */
  namespace: string
  now(): number
}

/**
 * The broker's own figures of a queue, when the transport has `queueStats` (the observability
 * work adds it to the port; read here by its shape so that either side can land first).
 */
interface BrokerQueueStats {
  ready: number
  inFlight: number
  delayed: number
  dead: number
  /** Age of the oldest ready message, ms (0 when none is ready). */
  oldestAgeMs: number
}

/** The figures of `queues`, one at a time per queue, failures as a row with what was read. */
export async function readQueueStats(source: QueueSource, queues: readonly string[], consumers: ReadonlyMap<string, number>): Promise<QueueRow[]> {
  const transport = await source.transport()
  const letters = await transport.deadLetters().catch(() => [] as DeadLetter[])
  const dead = new Map<string, number>()
  for (const letter of letters) dead.set(letter.queue, (dead.get(letter.queue) ?? 0) + 1)
  const nats = transport.kind === 'nats' && source.nats ? await import('./nats-queue-info.js').then(async (m) => m.natsQueueInfo(await source.nats!(), source.namespace)) : undefined
  const native = (transport as { queueStats?: (queue: string) => Promise<BrokerQueueStats> }).queueStats?.bind(transport)
  return Promise.all(queues.map(async (name) => {
    const row: QueueRow = { name, ready: 0, delayed: null, inFlight: null, redelivered: null, consumers: consumers.get(name) ?? 0, oldestAgeSeconds: null, deadLetters: dead.get(name) ?? 0 }
    const [stats, info] = await Promise.all([native?.(name).catch(() => undefined), nats?.(name).catch(() => undefined)])
    if (stats) {
      row.ready = stats.ready
      row.delayed = stats.delayed
      row.inFlight = stats.inFlight
      row.oldestAgeSeconds = stats.ready > 0 ? stats.oldestAgeMs / 1000 : null
    } else {
      row.ready = await queueDepth(transport, name)
    }
    if (info) {
      row.inFlight ??= Math.max(0, info.messages - row.ready)
      row.redelivered = info.redelivered
      // Only without the broker's own figures: the stream's first message may be in flight or
      // delayed, and the metric of this name (the worker's too) is the oldest *ready* message's age.
      if (!stats) row.oldestAgeSeconds = info.messages > 0 && info.firstAt !== undefined ? Math.max(0, (source.now() - info.firstAt) / 1000) : null
    }
    return row
  }))
}

/**
 * Messages ready in `queue`; 0 for a queue the config names but no worker or sender has
 * declared yet (a dashboard started before its workers): it holds nothing, which is no error.
 */
export async function queueDepth(transport: Transport, queue: string): Promise<number> {
  try {
    return await transport.depth(queue)
  } catch (error) {
    if (error instanceof TransportError && /is not declared/.test(error.message)) return 0
    throw error
  }
}

/** The queues a NATS broker holds, from its stream names. */
export async function brokerQueues(source: QueueSource): Promise<string[]> {
  const transport = await source.transport()
  if (transport.kind !== 'nats' || !source.nats) return []
  const { natsQueueNames } = await import('./nats-queue-info.js')
  return natsQueueNames(await source.nats(), source.namespace)
}
