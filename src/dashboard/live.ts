/**
 * Live updates: one Server-Sent Events stream per open page. Changes are gathered and sent as
 * one batch every `batchMs` (a busy cluster's thousands of events a second become four small
 * messages), and only when something changed. An idle stream gets a `ping` every 10 s, so a page
 * can tell a quiet cluster from a dead connection (a hung server, a proxy that dropped it).
 * Whether the dashboard itself hears the broker goes out at once, as a `broker` message, and
 * with every `hello`: a page whose stream is live may still show a cluster the dashboard has
 * lost sight of.
 * @module
 */
import type { BrokerLink, TaskRow, WorkerRow } from './state.js'

/** What one batch tells a page. */
export interface LiveBatch {
  /** Ids of tasks that changed since the last batch, newest last (at most 500). */
  tasks: string[]
  /** How many tasks changed (may exceed `tasks.length`). */
  changed: number
  /** Workers that changed. */
  workers: WorkerRow[]
  /** Events applied so far. */
  events: number
  /** Epoch ms the batch was sent. */
  at: number
}

const MAX_IDS = 500
/** An idle stream is pinged this often, ms (pages take 25 s of silence for a dead stream). */
const PING_MS = 10_000
const encoder = new TextEncoder()

/** Gathers changes and fans batches out to the open streams. */
export class LiveHub {
  readonly #clients = new Set<ReadableStreamDefaultController<Uint8Array>>()
  readonly #tasks = new Set<string>()
  readonly #workers = new Map<string, WorkerRow>()
  #changed = 0
  #timer: NodeJS.Timeout | undefined
  #lastSent = Date.now()
  readonly #batchMs: number
  readonly #events: () => number
  readonly #broker: () => BrokerLink

  constructor(batchMs: number, events: () => number, broker: () => BrokerLink) {
    this.#batchMs = batchMs
    this.#events = events
    this.#broker = broker
  }

  /** Tells every page that the dashboard's broker link went down or came back. */
  brokerChanged(): void {
    this.#send(encoder.encode(`event: broker\ndata: ${JSON.stringify(this.#broker())}\n\n`))
  }

  /** Notes a changed task or worker. */
  note(task: TaskRow | undefined, worker: WorkerRow | undefined): void {
    if (this.#clients.size === 0) return
    if (task) {
      this.#changed++
      this.#tasks.delete(task.id)
      this.#tasks.add(task.id)
      if (this.#tasks.size > MAX_IDS) this.#tasks.delete(this.#tasks.values().next().value as string)
    }
    if (worker) this.#workers.set(worker.hostname, worker)
  }

  /** Number of open streams. */
  get clients(): number {
    return this.#clients.size
  }

  /** A new stream for one page. */
  stream(signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
    let self: ReadableStreamDefaultController<Uint8Array> | undefined
    const stop = () => {
      if (!self) return
      this.#clients.delete(self)
      try {
        self.close()
      } catch {
        // already closed by the client
      }
      self = undefined
      if (this.#clients.size === 0) this.#stopTimer()
    }
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller
        this.#clients.add(controller)
        // retry: how soon the browser reconnects after the stream drops.
        controller.enqueue(encoder.encode(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ events: this.#events(), broker: this.#broker() })}\n\n`))
        this.#timer ??= setInterval(() => this.#flush(), this.#batchMs)
        signal?.addEventListener('abort', stop, { once: true })
      },
      cancel: stop,
    })
  }

  #flush(): void {
    if (this.#changed === 0 && this.#workers.size === 0) {
      if (Date.now() - this.#lastSent >= PING_MS) this.#send(encoder.encode(`event: ping\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`))
      return
    }
    const batch: LiveBatch = { tasks: [...this.#tasks], changed: this.#changed, workers: [...this.#workers.values()], events: this.#events(), at: Date.now() }
    this.#tasks.clear()
    this.#workers.clear()
    this.#changed = 0
    this.#send(encoder.encode(`event: batch\ndata: ${JSON.stringify(batch)}\n\n`))
  }

  #send(data: Uint8Array): void {
    this.#lastSent = Date.now()
    for (const client of this.#clients) {
      try {
        client.enqueue(data)
      } catch {
        this.#clients.delete(client)
      }
    }
  }

  #stopTimer(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Ends every stream. */
  close(): void {
    for (const client of this.#clients) {
      try {
        client.close()
      } catch {
        // already closed
      }
    }
    this.#clients.clear()
    this.#stopTimer()
  }
}
