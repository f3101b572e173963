/**
 * JetStream's view of celeriac's queue streams, for the dashboard (loaded only on NATS).
 * @module
 */
import { jetstreamManager } from '@nats-io/jetstream'
import { Names, untoken, WORKERS } from '../transport/nats/names.js'
import type { NatsConnection } from '@nats-io/transport-node'

/** What a queue's stream and its shared consumer say. */
export interface NatsQueueInfo {
  /** Messages in the stream: waiting plus in flight (a work queue drops acked ones). */
  messages: number
  /** When the oldest stored message was stored, epoch ms. */
  firstAt: number | undefined
  redelivered: number
}

/** A reader of {@link NatsQueueInfo} by queue name, for the app's `namespace` (`config.namespace`). */
export async function natsQueueInfo(nc: NatsConnection, namespace: string): Promise<(queue: string) => Promise<NatsQueueInfo>> {
  const names = new Names(namespace)
  const jsm = await jetstreamManager(nc)
  return async (queue) => {
    const stream = names.queueStream(queue)
    const [info, consumer] = await Promise.all([jsm.streams.info(stream), jsm.consumers.info(stream, WORKERS)])
    const first = Date.parse(info.state.first_ts)
    return { messages: info.state.messages, firstAt: Number.isNaN(first) || info.state.messages === 0 ? undefined : first, redelivered: consumer.num_redelivered }
  }
}

/** The queue names of the broker's queue streams in `namespace`. */
export async function natsQueueNames(nc: NatsConnection, namespace: string): Promise<string[]> {
  const jsm = await jetstreamManager(nc)
  // What every queue stream name starts with: the name of a queue named "x", less the "x"
  // (a safe name is its own token; the empty name is not, it would end the prefix with "=").
  const prefix = new Names(namespace).queueStream('x').slice(0, -1)
  const queues: string[] = []
  for await (const name of jsm.streams.names()) if (name.startsWith(prefix)) queues.push(untoken(name.slice(prefix.length)))
  return queues
}
