import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type MsgRequest,
  type StoredMsg,
} from '@nats-io/jetstream'
import { millis, nanos } from '@nats-io/transport-node'
import { Header, WORKERS, type Names } from './names.js'
import { ensureReplicas, untilAnswered } from './replicas.js'

// A stream or consumer created by another node between our lookup and our create.
const STREAM_NAME_IN_USE = 10058
const CONSUMER_NAME_IN_USE = 10013
// Deletes in flight at once when purging a queue message by message.
const DELETE_CONCURRENCY = 256

/** What a queue stream needs from the transport: its server, names and defaults. */
export interface QueueStreamContext {
  jsm: JetStreamManager
  names: Names
  duplicateWindowMs: number
  /** Copies JetStream keeps of the stream (its consumer follows the stream). */
  replicas: number
  now: () => number
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code
}

/**
 * Creates the queue's stream and its shared consumer, or adjusts the ack wait of existing
 * ones when the declaration names one.
 *
 * @remarks
 * One work-queue stream per queue (file storage): a message is removed once acked, and the
 * streams of different queues never overlap, so a fanout stores one copy per queue and dedupe
 * by `msgId` is per queue. The duplicate window is fixed by whoever creates the stream. One
 * durable pull consumer per stream is shared by every node, which makes them competing
 * consumers. `max_deliver` stays unlimited on the server because messages that reach it stay
 * stuck in a work-queue stream: the transport counts deliveries and dead-letters instead.
 * `max_ack_pending` is unlimited because delayed messages wait on the server as naks with a
 * delay, and each one counts as pending.
 */
export async function ensureQueueStream(context: QueueStreamContext, queue: string, ackWaitMs: number | undefined, defaultAckWaitMs: number): Promise<number> {
  const { jsm, names } = context
  const stream = names.queueStream(queue)
  try {
    const { config } = await jsm.streams.info(stream)
    await ensureReplicas(jsm, stream, context.replicas, `queue "${queue}"`, config)
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error
    try {
      await jsm.streams.add({
        name: stream,
        subjects: [names.queueSubject(queue)],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        duplicate_window: nanos(context.duplicateWindowMs),
        num_replicas: context.replicas,
      })
    } catch (error) {
      if (!isApiError(error, STREAM_NAME_IN_USE)) throw error
    }
  }
  let existing: number | undefined
  try {
    existing = (await untilAnswered(() => jsm.consumers.info(stream, WORKERS))).config.ack_wait
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error
  }
  if (existing === undefined) {
    try {
      await jsm.consumers.add(stream, {
        durable_name: WORKERS,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(ackWaitMs ?? defaultAckWaitMs),
        max_deliver: -1,
        max_ack_pending: -1,
      })
    } catch (error) {
      if (!isApiError(error, CONSUMER_NAME_IN_USE)) throw error
      // Made by another node just now, perhaps with its own ack wait: read what it has.
      return millis((await jsm.consumers.info(stream, WORKERS)).config.ack_wait ?? nanos(defaultAckWaitMs))
    }
    return ackWaitMs ?? defaultAckWaitMs
  }
  if (ackWaitMs !== undefined && existing !== nanos(ackWaitMs)) {
    await jsm.consumers.update(stream, WORKERS, { ack_wait: nanos(ackWaitMs) })
    return ackWaitMs
  }
  return millis(existing)
}

/** True when a stored message carries a Not-Before still in the future: delayed, not running. */
function isHeld(message: StoredMsg, now: number): boolean {
  const notBefore = message.header?.get(Header.NotBefore)
  return notBefore !== undefined && notBefore !== '' && Number(notBefore) > now
}

/**
 * The messages of a queue the server has handed out but not seen settled: both deliveries
 * running somewhere and delayed messages the server holds after an early arrival (a nak with
 * the remaining delay). They differ only by their Not-Before header, so this reads each one:
 * it costs one request per pending message, and only `depth` and `purge` call it.
 */
async function pendingMessages(context: QueueStreamContext, queue: string): Promise<{ held: number[]; inFlight: number; delivered: number }> {
  const { jsm, names } = context
  const stream = names.queueStream(queue)
  const info = await jsm.consumers.info(stream, WORKERS)
  const delivered = info.delivered.stream_seq
  const result = { held: [] as number[], inFlight: 0, delivered }
  if (info.num_ack_pending === 0) return result
  const now = context.now()
  const subject = names.queueSubject(queue)
  // Messages at or below the delivered sequence are either acked (gone from a work queue) or
  // pending; `next_by_subj` skips the gaps, so the walk visits only the pending ones.
  let seq = info.ack_floor.stream_seq + 1
  while (seq <= delivered) {
    const message = await jsm.streams.getMessage(stream, { seq, next_by_subj: subject } as unknown as MsgRequest)
    if (message === null || message.seq > delivered) break
    if (isHeld(message, now)) result.held.push(message.seq)
    else result.inFlight++
    seq = message.seq + 1
  }
  return result
}

/**
 * Messages waiting in a queue: the stream's messages less the deliveries in flight. That counts
 * ready messages, delayed ones not fetched yet, and delayed ones the server holds after an
 * early arrival. Messages a worker nak'd with a delay count as in flight: to the server they
 * look the same. The stream's count is exact at once, where the consumer's `num_pending`
 * catches up with a publish a moment later.
 */
export async function queueDepth(context: QueueStreamContext, queue: string): Promise<number> {
  const { jsm, names } = context
  const { messages } = (await jsm.streams.info(names.queueStream(queue))).state
  if (messages === 0) return 0
  const { inFlight } = await pendingMessages(context, queue)
  return Math.max(0, messages - inFlight)
}

// Past this many unsettled messages, queue stats stop telling held (delayed) ones from those
// running: telling them apart costs one request per message, and a scrape must stay cheap.
const STATS_WALK_LIMIT = 256

/**
 * What a queue holds, for metrics: from the stream's and the shared consumer's info, plus one
 * direct get of the next undelivered message for its age. Delayed counts the messages the
 * server holds after an early arrival (up to {@link STATS_WALK_LIMIT} unsettled messages; past
 * that they count as in flight); one that was never fetched yet counts as ready.
 */
export async function queueStats(context: QueueStreamContext, queue: string): Promise<{ ready: number; inFlight: number; delayed: number; oldestAgeMs: number }> {
  const { jsm, names } = context
  const stream = names.queueStream(queue)
  const [{ messages }, info] = await Promise.all([jsm.streams.info(stream).then((i) => i.state), jsm.consumers.info(stream, WORKERS)])
  let inFlight = info.num_ack_pending
  let delayed = 0
  if (inFlight > 0 && inFlight <= STATS_WALK_LIMIT) {
    const pending = await pendingMessages(context, queue)
    inFlight = pending.inFlight
    delayed = pending.held.length
  }
  const ready = Math.max(0, messages - inFlight - delayed)
  let oldestAgeMs = 0
  if (ready > 0) {
    const next = await jsm.streams.getMessage(stream, { seq: info.delivered.stream_seq + 1, next_by_subj: names.queueSubject(queue) } as unknown as MsgRequest)
    if (next !== null) {
      const now = context.now()
      const notBefore = Number(next.header?.get(Header.NotBefore) || 0)
      oldestAgeMs = Math.max(0, now - Math.max(next.time.getTime(), Number.isFinite(notBefore) ? notBefore : 0))
    }
  }
  return { ready, inFlight, delayed, oldestAgeMs }
}

/**
 * Drops the waiting messages of a queue (those {@link queueDepth} counts) and returns how
 * many. With nothing in flight this is one stream purge; otherwise the deliveries in flight
 * must stay, and since a stream purge can only cut a prefix, the waiting messages (all above
 * the delivered sequence, plus the held ones below it) are deleted one by one.
 */
export async function purgeQueue(context: QueueStreamContext, queue: string): Promise<number> {
  const { jsm, names } = context
  const stream = names.queueStream(queue)
  const pending = await pendingMessages(context, queue)
  if (pending.inFlight === 0) return (await jsm.streams.purge(stream)).purged
  const last = (await jsm.streams.info(stream)).state.last_seq
  const doomed = pending.held
  for (let seq = pending.delivered + 1; seq <= last; seq++) doomed.push(seq)
  let purged = 0
  for (let i = 0; i < doomed.length; i += DELETE_CONCURRENCY) {
    const batch = doomed.slice(i, i + DELETE_CONCURRENCY)
    const results = await Promise.allSettled(batch.map((seq) => jsm.streams.deleteMessage(stream, seq, false)))
    // A sequence that is already gone (acked, or a gap) fails with "not found": not counted.
    for (const result of results) if (result.status === 'fulfilled' && result.value) purged++
  }
  return purged
}
