/**
 * How a worker node counts the deliveries of a task it requeues itself. A task acked early (as
 * it starts) that asks to be requeued (`Reject` with `requeue`) is no longer the broker's: the
 * node publishes a copy, whose delivery count starts again at 1. So that such a loop is bounded
 * as the broker's `maxDeliver` bounds the redeliveries of a task acked late, the copy's message
 * id says how many deliveries came before it: `<id>.r<retries>.q<deliveries>`. Each requeue
 * gets an id of its own (the broker's duplicate window would drop a second copy with the same
 * one), while a publish retried for the same requeue (a lost PubAck) keeps it, and is dropped.
 * @module
 */
import type { ConfigView } from './worker-deps.js'
import type { TaskHeaders } from '../protocol/envelope.js'
import type { Delivery } from '../transport/transport.js'

const REQUEUED = /\.q(\d+)$/

/**
 * How many deliveries of this task's message came before `delivery`'s copy was published: 0
 * for a message the broker has held from the start (its id is the task's), N for a copy that a
 * node requeued after N deliveries.
 */
export function earlierDeliveries(headers: TaskHeaders, delivery: Pick<Delivery, 'msgId'>): number {
  const msgId = delivery.msgId
  // The hot path: a task as sent has its own id as message id.
  if (msgId === undefined || msgId.length === headers.id.length || !msgId.startsWith(`${headers.id}.r${headers.retries}.q`)) return 0
  return Number(REQUEUED.exec(msgId)?.[1] ?? 0)
}

/** The message id of the copy that requeues a task after `deliveries` deliveries of its message. */
export function requeueMsgId(headers: TaskHeaders, deliveries: number): string {
  return `${headers.id}.r${headers.retries}.q${deliveries}`
}

/**
 * How many deliveries of one message `queue` allows: its `taskQueues` entry's `maxDeliver`, else
 * `brokerMaxDeliver` (`null`: no limit), as the node declared the queue.
 *
 * @remarks
 * Read from the app's configuration: a transport built by hand with a `maxDeliver` of its own
 * bounds the redeliveries it makes, not the copies a node requeues.
 */
export function deliveryLimit(conf: ConfigView, queue: string): number {
  const own = conf.taskQueues.find((q) => q.name === queue)?.maxDeliver
  const limit = own === undefined ? conf.brokerMaxDeliver : own
  return limit ?? Infinity
}
