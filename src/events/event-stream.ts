import { AsyncQueue } from '../util/async-queue.js'
import { msgpackCodec } from '../serialization/codec.js'
import { checkEventPattern, eventPattern, eventSubject, type CeleriacEvent, type EventOf } from './events.js'
import type { Transport } from '../transport/transport.js'
import type { Logger } from '../util/logger.js'

/** A live stream of cluster events. Iterate it with `for await`; `close()` or `break` ends it. */
export interface EventStream<E extends CeleriacEvent = CeleriacEvent> extends AsyncIterableIterator<E> {
  /** Resolves once the subscription is in place: events sent after this are not missed. */
  readonly ready: Promise<void>
  close(): void
}

/**
 * Subscribes to events matching `pattern` (`'task-*'`, `'worker-online'`, `'*'`); a pattern no
 * event can match throws an InvalidArgumentError.
 */
export function subscribeEvents<P extends string>(transport: Promise<Transport>, pattern: P, logger: Logger): EventStream<EventOf<P>> {
  checkEventPattern(pattern)
  let unsubscribe = () => {}
  let closed = false
  const queue = new AsyncQueue<EventOf<P>>(() => {
    closed = true
    unsubscribe()
  })
  const ready = transport.then((t) => {
    if (closed) return
    const subscription = t.subscribe(eventPattern(pattern), (_subject, data) => {
      try {
        queue.push(msgpackCodec.decode(data) as EventOf<P>)
      } catch (error) {
        logger.warn('dropped an undecodable event', { error })
      }
    })
    unsubscribe = () => subscription.unsubscribe()
    // A subscription the server refuses ends the stream with why, instead of a silent one.
    return subscription.ready.catch((error: unknown) => {
      queue.end(error)
      throw error
    })
  })
  // The stream's iterator reports a refusal too: `ready` need not be awaited to learn of it.
  ready.catch(() => {})
  return Object.assign(queue, { ready, close: () => queue.end() })
}

/** Sends an event on the cluster's event stream. */
export function sendEvent(transport: Transport, event: CeleriacEvent): void {
  transport.broadcast(eventSubject(event.type), msgpackCodec.encode(event))
}
