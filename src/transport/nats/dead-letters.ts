import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream'
import { headers } from '@nats-io/transport-node'
import type { Logger } from '../../util/logger.js'
import type { DeadLetter } from '../transport.js'
import { Header, type Names } from './names.js'
import { ensureReplicas } from './replicas.js'

// Dead letters are for inspection, not storage: past this many per queue the oldest go,
// as in the memory transport.
const MAX_PER_QUEUE = 10_000
const STREAM_NAME_IN_USE = 10058
// A message whose copy could not be stored comes back after this long, ms.
const RETRY_KILL_MS = 1_000
// How long a read waits for dead letters it was told are there.
const READ_EXPIRES_MS = 2_000

/**
 * The dead-letter stream: one limits-retention stream (file storage) for every queue, one
 * subject per queue.
 *
 * @remarks
 * JetStream does not move messages that are terminated or reach `max_deliver`; they stay in
 * the work-queue stream. So the transport copies the body here, with why, from which queue,
 * after how many deliveries and when, before it settles the original.
 */
export class DeadLetters {
  readonly #js: JetStreamClient
  readonly #jsm: JetStreamManager
  readonly #names: Names
  readonly #replicas: number

  constructor(js: JetStreamClient, jsm: JetStreamManager, names: Names, replicas = 1) {
    this.#replicas = replicas
    this.#js = js
    this.#jsm = jsm
    this.#names = names
  }

  /** Creates the stream unless it exists; an existing one is brought to the replica count. */
  async ensure(): Promise<void> {
    const name = this.#names.deadLetterStream
    try {
      const { config } = await this.#jsm.streams.info(name)
      await ensureReplicas(this.#jsm, name, this.#replicas, 'the dead-letter stream', config)
      return
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamNotFound) throw error
    }
    try {
      await this.#jsm.streams.add({
        name,
        subjects: [this.#names.deadLetterSubject('>')],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        max_msgs_per_subject: MAX_PER_QUEUE,
        discard: DiscardPolicy.Old,
        num_replicas: this.#replicas,
      })
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NAME_IN_USE) throw error
    }
  }

  /** How many dead letters of `queue` the stream holds. */
  async count(queue: string): Promise<number> {
    const subject = this.#names.deadLetterSubject(queue)
    const info = await this.#jsm.streams.info(this.#names.deadLetterStream, { subjects_filter: subject })
    return info.state.subjects?.[subject] ?? 0
  }

  /** Stores a dead letter; resolves once the server has it. */
  async add(queue: string, body: Uint8Array, reason: string, deliveryCount: number, at: number): Promise<void> {
    const h = headers()
    h.set(Header.Reason, encodeURIComponent(reason))
    h.set(Header.Queue, encodeURIComponent(queue))
    h.set(Header.DeliveryCount, String(deliveryCount))
    h.set(Header.At, String(at))
    await this.#js.publish(this.#names.deadLetterSubject(queue), body, { headers: h })
  }

  /**
   * Copies a message here, then acks it: `term()` would leave it in the work-queue stream on
   * 2.9. If the copy fails the message is nak'd, to be dead-lettered on a later delivery.
   */
  kill(queue: string, message: JsMsg, reason: string, deliveryCount: number, at: number, logger: Logger): void {
    this.add(queue, message.data, reason, deliveryCount, at)
      .then(
        () => message.ack(),
        (error: unknown) => {
          logger.warn('could not dead-letter a message; it comes back later', { queue, reason, error })
          message.nak(RETRY_KILL_MS)
        },
      )
      .catch((error: unknown) => logger.warn('could not settle a dead-lettered message', { queue, error }))
  }

  /** Hands the dead letters of `queue` to `publish`, oldest first, removing each after; returns how many. */
  async replay(queue: string, publish: (body: Uint8Array) => Promise<unknown>): Promise<number> {
    let replayed = 0
    for (const { seq, body } of await this.read(queue)) {
      // Published before removal: a crash in between leaves a duplicate, never a loss.
      await publish(body)
      await this.#jsm.streams.deleteMessage(this.#names.deadLetterStream, seq)
      replayed++
    }
    return replayed
  }

  /** Dead letters of one queue or of all, oldest first. */
  async list(queue?: string): Promise<DeadLetter[]> {
    return (await this.read(queue)).map(({ letter }) => letter)
  }

  /** Dead letters with their stream sequences, oldest first. */
  async read(queue?: string): Promise<{ seq: number; body: Uint8Array; letter: DeadLetter }[]> {
    const subject = this.#names.deadLetterSubject(queue ?? '>')
    // An ordered consumer reads the stream in order without leaving state behind; on 2.9
    // it takes a single filter subject.
    const consumer = await this.#js.consumers.get(this.#names.deadLetterStream, { filter_subjects: subject })
    try {
      const count = (await consumer.info(true)).num_pending
      const letters: { seq: number; body: Uint8Array; letter: DeadLetter }[] = []
      if (count === 0) return letters
      const messages = await consumer.fetch({ max_messages: count, expires: READ_EXPIRES_MS })
      for await (const message of messages) {
        letters.push({ seq: message.seq, body: message.data, letter: toDeadLetter(message) })
        if (letters.length >= count) break
      }
      return letters
    } finally {
      await consumer.delete().catch(() => false)
    }
  }
}


function toDeadLetter(message: JsMsg): DeadLetter {
  const h = message.headers
  return {
    queue: decodeURIComponent(h?.get(Header.Queue) ?? ''),
    body: message.data,
    reason: decodeURIComponent(h?.get(Header.Reason) ?? ''),
    deliveryCount: Number(h?.get(Header.DeliveryCount) ?? 0),
    at: Number(h?.get(Header.At) ?? 0),
  }
}
