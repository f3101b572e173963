import { DEFAULTS } from '../config/defaults.js'
import { toMs } from '../util/duration.js'

/**
 * Defaults every transport shares when used on its own (an app passes its config instead):
 * the ack wait and the delivery limit of the config table (`brokerMaxDeliver`, see there why
 * bounded), and JetStream's 2-minute duplicate window.
 */
export const TRANSPORT_DEFAULTS = {
  ackWaitMs: toMs(DEFAULTS.brokerAckWait, 'brokerAckWait'),
  maxDeliver: maxDeliverOf(DEFAULTS.brokerMaxDeliver),
  duplicateWindowMs: 120_000,
} as const

/** A queue's delivery limit from the config's `brokerMaxDeliver`: `null` is unlimited. */
export function maxDeliverOf(configured: number | null): number {
  return configured ?? Infinity
}

/**
 * Why a message was dead-lettered after its last allowed delivery: `max-deliveries: delivered
 * N times`. Every transport words it so (the prefix is what code may match on).
 */
/** The dead-letter reason of a message delivered past its queue's max age: `max-age: ...`. */
export function tooOld(ageMs: number, maxAgeMs: number): string {
  return `max-age: delivered ${Math.round(ageMs)} ms after it was due, over the queue's max age of ${maxAgeMs} ms`
}

export function deliveredTooOften(deliveries: number): string {
  return `max-deliveries: delivered ${deliveries} ${deliveries === 1 ? 'time' : 'times'}`
}
