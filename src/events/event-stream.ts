import { AsyncQueue } from '../util/async-queue.js'
import { msgpackCodec } from '../serialization/codec.js'
import { isPlainObject, show } from '../protocol/validate-envelope.js'
import { systemClock, type Clock } from '../util/clock.js'
import { checkEventPattern, eventPattern, eventSubject, type CeleriacEvent, type EventOf } from './events.js'
import type { Transport } from '../transport/transport.js'
import type { Logger } from '../util/logger.js'

/** A live stream of cluster events. Iterate it with `for await`; `close()` or `break` ends it. */
export interface EventStream<E extends CeleriacEvent = CeleriacEvent> extends AsyncIterableIterator<E> {
  /** Resolves once the subscription is in place: events sent after this are not missed. */
  readonly ready: Promise<void>
  close(): void
}

/** How often, at most, a stream logs the events it skipped, ms. */
const SKIPPED_LOG_INTERVAL_MS = 60_000

/**
 * Subscribes to events matching `pattern` (`'task-*'`, `'worker-online'`, `'*'`); a pattern no
 * event can match throws an InvalidArgumentError.
 *
 * @remarks
 * Anyone allowed to publish events reaches every subscriber: a message that cannot be decoded,
 * or is not an object with a string `type` and a numeric `timestamp` (with a string `uuid` for
 * task events, a string `hostname` for worker events), is skipped, and a warning says so at
 * most once a minute (by `clock`), counting those skipped. The other fields are not checked.
 */
export function subscribeEvents<P extends string>(transport: Promise<Transport>, pattern: P, logger: Logger, clock: Pick<Clock, 'now'> = systemClock): EventStream<EventOf<P>> {
  checkEventPattern(pattern)
  let unsubscribe = () => {}
  let closed = false
  const queue = new AsyncQueue<EventOf<P>>(() => {
    closed = true
    unsubscribe()
  })
  const skipped = skipLog(logger, clock)
  const ready = transport.then((t) => {
    if (closed) return
    const subscription = t.subscribe(eventPattern(pattern), (subject, data) => {
      let event: unknown
      try {
        event = msgpackCodec.decode(data)
      } catch (error) {
        return skipped(`undecodable (${(error as Error).message})`, subject)
      }
      const problem = eventProblem(event)
      if (problem) return skipped(problem, subject)
      queue.push(event as EventOf<P>)
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

/** The largest epoch ms a Date holds. */
const MAX_DATE_MS = 8.64e15

/** What is wrong with a decoded event, or undefined when it has the fields subscribers key on. */
function eventProblem(event: unknown): string | undefined {
  if (!isPlainObject(event)) return `not an object, got ${show(event)}`
  const { type } = event
  if (typeof type !== 'string') return `type must be a string, got ${show(type)}`
  // Every subscriber orders by it, and `new Date()` of what no Date can hold throws when shown.
  if (typeof event.timestamp !== 'number' || !(Math.abs(event.timestamp) <= MAX_DATE_MS)) return `timestamp of ${show(type)} must be epoch milliseconds, got ${show(event.timestamp)}`
  if (type.startsWith('task-')) return typeof event.uuid === 'string' ? undefined : `uuid of ${show(type)} must be a string, got ${show(event.uuid)}`
  if (type.startsWith('worker-')) return typeof event.hostname === 'string' ? undefined : `hostname of ${show(type)} must be a string, got ${show(event.hostname)}`
  return `type must be task-* or worker-*, got ${show(type)}`
}

/**
 * Reports a skipped event: the first at once, then at most one line a minute counting those
 * skipped since the last, so a flood of bad messages cannot flood the log.
 */
function skipLog(logger: Logger, clock: Pick<Clock, 'now'>): (reason: string, subject: string) => void {
  let count = 0
  let loggedAt = -Infinity
  return (reason, subject) => {
    count++
    const now = clock.now()
    if (now - loggedAt < SKIPPED_LOG_INTERVAL_MS) return
    logger.warn(`skipped ${count} malformed event${count === 1 ? '' : 's'}; the latest: ${reason}`, { subject })
    count = 0
    loggedAt = now
  }
}

/** Sends an event on the cluster's event stream. */
export function sendEvent(transport: Transport, event: CeleriacEvent): void {
  transport.broadcast(eventSubject(event.type), msgpackCodec.encode(event))
}
