import { TaskState } from '../lifecycle/states.js'
import { earlierDeliveries } from './requeue.js'
import type { TaskHeaders } from '../protocol/envelope.js'
import type { Delivery } from '../transport/transport.js'
import type { ResolvedTaskOptions, TaskDefinition } from '../task/definition.js'
import type { TimerHandle } from '../util/clock.js'

// How often the ack wait of messages whose outcome is still being stored is renewed, ms: below
// any ack wait worth having, and one tick serves every such message.
const STORING_TICK_MS = 1_000
const storing = new Map<InFlight, number>()
const storingById = new Map<string, InFlight>()
let storingTicker: ReturnType<typeof setInterval> | undefined

/**
 * Renews the delivery's ack wait until `stored` settles. A store can outlast the ack wait when
 * the broker is failing over (a lost stream leader, a restart): without this the broker hands
 * the task out again, and a task whose outcome is not stored yet runs again, once per ack wait
 * (issue 13: four runs of each task with a 2 s ack wait while a results leader was elected).
 */
function keepWhileStoring(item: InFlight, stored: Promise<void>): void {
  storing.set(item, Date.now())
  storingById.set(item.headers.id, item)
  storingTicker ??= setInterval(() => {
    const now = Date.now()
    for (const [item, since] of storing) if (now - since >= STORING_TICK_MS / 2) item.delivery.working()
  }, STORING_TICK_MS).unref()
  const done = () => {
    storing.delete(item)
    if (storingById.get(item.headers.id) === item) storingById.delete(item.headers.id)
    if (storing.size === 0 && storingTicker !== undefined) {
      clearInterval(storingTicker)
      storingTicker = undefined
    }
  }
  stored.then(done, done)
}

/**
 * The task of that id whose outcome is being stored (acked late, the ack waiting for the
 * store), if any: a redelivered copy of its message is {@link InFlight.adopt}ed, not run again.
 */
export function storingTask(id: string): InFlight | undefined {
  return storingById.get(id)
}

/**
 * What became of a task's message: `open` until the node settles it, then exactly one of the
 * others. `acked` may still be followed by `resent` (an early-acked task given back).
 */
export type AckState = 'open' | 'acked' | 'nakked' | 'termed' | 'resent'

/**
 * A task a worker node has taken from its queue and not yet settled: the supervisor's record.
 * It owns its delivery's ack state: {@link ack}, {@link ackWhen}, {@link nak}, {@link term} and
 * {@link resend} each act once, and only from the state they apply to; any later call does
 * nothing and returns false, so no path can settle a message twice.
 */
export class InFlight {
  readonly headers: TaskHeaders
  #delivery: Delivery
  readonly definition: TaskDefinition
  readonly options: ResolvedTaskOptions
  /** The lifecycle machine's state for this task. */
  state: TaskState
  /** The custom state last reported (PROGRESS), for the stored record. */
  customState?: string
  /** Store nothing for this task. */
  readonly ignoreResult: boolean | undefined
  /** Deliveries of this task's message before the copy delivered here was published (a node requeued it: see requeue.ts). */
  readonly earlierDeliveries: number
  /** Set while the task is on a thread. */
  threadId?: number
  slot = -1
  /** The hard time limit that applies to this run, ms; armed when the thread reports the start. */
  hardLimitMs?: number
  /** Record STARTED when the thread reports the start (`trackStarted` or task events). */
  recordStart = false
  /** Hard time limit watchdog. */
  timer?: TimerHandle
  /** Why the supervisor terminated its thread, if it did. */
  killedFor?: Error
  #ack: AckState = 'open'

  /** The delivery this task settles: the latest the broker made of its message (see {@link adopt}). */
  get delivery(): Delivery {
    return this.#delivery
  }

  /**
   * Takes a new delivery of this same message (same queue and msgId): the broker handed it out
   * again while it was still here, its ack wait having run out while the broker was away (a
   * restart, a failover). The task is not run again: it settles through the new delivery, the
   * only one the broker still honours. An early-acked task acks the copy at once. False when
   * it is another message, or this one is already settled.
   */
  adopt(delivery: Delivery): boolean {
    const current = this.#delivery
    if (delivery.msgId === undefined || delivery.msgId !== current.msgId || delivery.queue !== current.queue) return false
    if (this.#ack === 'open') {
      this.#delivery = delivery
      return true
    }
    if (this.#ack === 'acked') {
      // Still storing its outcome: the ack waiting for the store goes to the new delivery.
      if (storing.has(this)) this.#delivery = delivery
      else delivery.ack()
      return true
    }
    return false
  }

  constructor(headers: TaskHeaders, delivery: Delivery, definition: TaskDefinition, options: ResolvedTaskOptions) {
    this.headers = headers
    this.#delivery = delivery
    this.definition = definition
    this.options = options
    this.state = headers.retries > 0 ? TaskState.RETRY : TaskState.PENDING
    this.ignoreResult = headers.ignoreResult ?? options.ignoreResult
    this.earlierDeliveries = earlierDeliveries(headers, delivery)
  }

  /** How many times this task's message has been delivered, this delivery included, across the copies a node requeued. */
  get deliveries(): number {
    return this.earlierDeliveries + this.#delivery.deliveryCount
  }

  /** What became of the message so far. */
  get ackState(): AckState {
    return this.#ack
  }

  /** True once the message's fate is decided (acked, or being acked; nakked; termed; re-sent). */
  get settled(): boolean {
    return this.#ack !== 'open'
  }

  /** Acks now (early ack at receipt, or a redelivered copy of a task that already ended). */
  ack(): boolean {
    if (this.#ack !== 'open') return false
    this.#ack = 'acked'
    this.delivery.ack()
    return true
  }

  /**
   * Acks once `stored` (the outcome's record) resolves, naks if it rejects so the task runs
   * again; acks at once without it. Decided now: later calls and {@link nak} do nothing.
   */
  ackWhen(stored: Promise<void> | undefined): boolean {
    if (this.#ack !== 'open') {
      // Acked already (early): nothing waits on `stored`, whose failure was reported where it
      // was made. Never an unhandled rejection, which would end the worker's process.
      stored?.catch(() => undefined)
      return false
    }
    this.#ack = 'acked'
    if (stored) {
      keepWhileStoring(this, stored)
      stored.then(() => this.delivery.ack(), () => this.delivery.nak())
    } else this.delivery.ack()
    return true
  }

  /** Back to the broker, for another delivery now or after `delayMs`. */
  nak(delayMs?: number): boolean {
    if (this.#ack !== 'open') return false
    this.#ack = 'nakked'
    if (delayMs === undefined) this.delivery.nak()
    else this.delivery.nak(delayMs)
    return true
  }

  /** Never deliver again: dead-letter with `reason`. */
  term(reason: string): boolean {
    if (this.#ack !== 'open') return false
    this.#ack = 'termed'
    this.delivery.term(reason)
    return true
  }

  /**
   * Re-sends a task acked early (at receipt) that will not run here: the broker no longer
   * holds it, so `send` publishes a copy. Only from `acked`, and once.
   */
  resend(send: () => Promise<unknown>): Promise<unknown> | undefined {
    if (this.#ack !== 'acked') return undefined
    this.#ack = 'resent'
    return send()
  }

  /** Restarts the broker's ack wait while the message is open (a long task, acked late). */
  working(): void {
    if (this.#ack === 'open') this.delivery.working()
  }
}
