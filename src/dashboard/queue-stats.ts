/**
 * Queue figures read from the broker: what every transport answers (depth, dead letters), and
 * on NATS what JetStream's stream and consumer info add (in flight, redelivered, the oldest
 * message's age).
 * @module
 */
import type { DeadLetter, Transport } from '../transport/transport.js'
import type { NatsConnection } from '@nats-io/transport-node'

/** One queue as the Queues page shows it; `null` where the broker cannot tell. */
export interface QueueStats {
  name: string
  /** Messages waiting: ready plus delayed (the transport's `depth`). */
  ready: number
  /** Delivered and not yet acked. */
  inFlight: number | null
  /** Delivered more than once (NATS: the consumer's redelivered count). */
  redelivered: number | null
  /** Nodes consuming it (from their `inspect stats`). */
  consumers: number
  /** Seconds since the oldest message still in the queue (waiting or in flight) was sent. */
  oldestAgeSeconds: number | null
  /** Dead-lettered messages of this queue. */
  deadLetters: number
}

/** Where the queue figures come from. */
export interface QueueSource {
  transport(): Promise<Transport>
  /** The NATS connection of the broker, on NATS. */
  nats?(): Promise<NatsConnection>
  now(): number
}

/** The figures of `queues`, one at a time per queue, failures as a row with what was read. */
export async function readQueueStats(source: QueueSource, queues: readonly string[], consumers: ReadonlyMap<string, number>): Promise<QueueStats[]> {
  const transport = await source.transport()
  const letters = await transport.deadLetters().catch(() => [] as DeadLetter[])
  const dead = new Map<string, number>()
  for (const letter of letters) dead.set(letter.queue, (dead.get(letter.queue) ?? 0) + 1)
  const nats = transport.kind === 'nats' && source.nats ? await import('./nats-queue-info.js').then(async (m) => m.natsQueueInfo(await source.nats!())) : undefined
  return Promise.all(queues.map(async (name) => {
    const row: QueueStats = { name, ready: await transport.depth(name), inFlight: null, redelivered: null, consumers: consumers.get(name) ?? 0, oldestAgeSeconds: null, deadLetters: dead.get(name) ?? 0 }
    const info = await nats?.(name).catch(() => undefined)
    if (info) {
      row.inFlight = Math.max(0, info.messages - row.ready)
      row.redelivered = info.redelivered
      row.oldestAgeSeconds = info.messages > 0 && info.firstAt !== undefined ? Math.max(0, (source.now() - info.firstAt) / 1000) : null
    }
    return row
  }))
}

/** The queues a NATS broker holds, from its stream names. */
export async function brokerQueues(source: QueueSource): Promise<string[]> {
  const transport = await source.transport()
  if (transport.kind !== 'nats' || !source.nats) return []
  const { natsQueueNames } = await import('./nats-queue-info.js')
  return natsQueueNames(await source.nats())
}
