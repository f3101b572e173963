import { DEFAULTS } from '../config/defaults.js'
import { toMs } from '../util/duration.js'

/**
 * Defaults every transport shares when used on its own (an app passes its config instead):
 * the ack wait of the config table, unlimited deliveries, and JetStream's 2-minute duplicate
 * window.
 */
export const TRANSPORT_DEFAULTS = {
  ackWaitMs: toMs(DEFAULTS.brokerAckWait, 'brokerAckWait'),
  maxDeliver: Infinity,
  duplicateWindowMs: 120_000,
} as const
