import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import type { KV, KvEntry } from '@nats-io/kv'
import { TransportError } from '../../errors.js'
import { ExchangeTable } from '../../routing/exchange-table.js'
import type { ExchangeType, QueueDeclaration } from '../transport.js'
import { KvMirror } from './kv-mirror.js'
import { bindingKey, exchangeKey, queueKey } from './names.js'

/** What the topology bucket knows of a queue. */
export interface QueueRecord {
  name: string
  /** Deliveries after which a message is dead-lettered; `null` for unlimited. */
  maxDeliver: number | null
  /** Oldest a message may be when delivered, ms, counted from when it was due; absent or `null` for no limit. */
  maxAgeMs?: number | null
}

interface ExchangeRecord {
  name: string
  type: ExchangeType
}

interface BindingRecord {
  exchange: string
  queue: string
  key: string
}

const encoder = new TextEncoder()

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/**
 * Exchanges, queues and bindings, shared by every process through a KV bucket and routed
 * locally.
 *
 * @remarks
 * Bindings live on the server rather than in each process's config: a publisher then learns
 * the bindings any worker declares, instead of needing every worker's configuration to route.
 * Each transport loads the bucket at connect and keeps its table current with a watch, so
 * routing costs no round trip; a miss (an exchange or queue not known yet, or a message that
 * would go nowhere) waits for the watch to catch up once before it counts. A binding declared
 * elsewhere reaches a publisher within the watch's latency (milliseconds): a publish in that
 * window that does reach some queue is not held back for it. Records are only ever added: the contract has no
 * unbinding or deleting, so delete markers written by hand are ignored.
 */
export class Topology {
  readonly #kv: KV
  readonly #mirror: KvMirror
  readonly #exchanges = new ExchangeTable<string>()
  readonly #queues = new Map<string, QueueRecord>()
  readonly #bindings = new Set<string>()
  // Bindings seen before their exchange (only possible with records written by hand).
  #pending: BindingRecord[] = []

  constructor(kv: KV) {
    this.#kv = kv
    this.#mirror = new KvMirror(kv, this.#apply)
  }

  /** Loads the bucket and starts following it. */
  start(): Promise<void> {
    return this.#mirror.start()
  }

  /** Stops following the bucket. */
  stop(): void {
    this.#mirror.stop()
  }

  /** The record of a queue known locally; synchronous, for `consume`. */
  queue(name: string): QueueRecord | undefined {
    return this.#queues.get(name)
  }

  /** The record of a queue, asking the server once when it is not known locally. */
  async findQueue(name: string): Promise<QueueRecord | undefined> {
    if (!this.#queues.has(name)) await this.#sync()
    return this.#queues.get(name)
  }

  /** Declares an exchange for every process; another type than the stored one is refused. */
  async declareExchange(name: string, type: ExchangeType): Promise<void> {
    if (name === '') {
      if (type !== 'direct') throw new TransportError(`the default exchange "" is direct, not ${type}`)
      return
    }
    if (!this.#exchanges.has(name)) {
      try {
        // create, not put: the first declaration fixes the type for everyone.
        await this.#kv.create(exchangeKey(name), json({ name, type } satisfies ExchangeRecord))
      } catch (error) {
        if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamWrongLastSequence) {
          throw new TransportError(`cannot declare exchange "${name}": ${(error as Error).message}`, { cause: error })
        }
        const stored = await this.#kv.get(exchangeKey(name))
        if (stored?.operation === 'PUT') this.#declareLocal(stored.json<ExchangeRecord>())
      }
      this.#declareLocal({ name, type })
    }
    // Throws, naming both types, when the exchange has another.
    this.#exchanges.declare(name, type)
  }

  /** Throws unless every binding of `queue` names a declared exchange. */
  async checkBindings(queue: QueueDeclaration): Promise<void> {
    for (const { exchange, key } of queue.bindings ?? []) {
      if (exchange === '') {
        if (key !== queue.name) {
          throw new TransportError(`queue "${queue.name}" cannot bind to the default exchange with key "${key}"`)
        }
      } else if (!(await this.#hasExchange(exchange))) {
        throw new TransportError(`exchange "${exchange}" is not declared (binding of queue "${queue.name}")`)
      }
    }
  }

  /**
   * Records a declared queue and its bindings. A redeclaration changes only the settings it
   * names; a new queue takes `defaultMaxDeliver` when it names none.
   */
  async recordQueue(queue: QueueDeclaration, defaultMaxDeliver: number): Promise<void> {
    const known = await this.findQueue(queue.name)
    const maxDeliver = queue.maxDeliver ?? (known ? (known.maxDeliver ?? Infinity) : defaultMaxDeliver)
    const maxAgeMs = queue.maxAgeMs ?? known?.maxAgeMs ?? null
    const record: QueueRecord = { name: queue.name, maxDeliver: maxDeliver === Infinity ? null : maxDeliver, ...(maxAgeMs === null ? {} : { maxAgeMs }) }
    try {
      if (known?.maxDeliver !== record.maxDeliver || (known?.maxAgeMs ?? null) !== maxAgeMs) await this.#kv.put(queueKey(queue.name), json(record))
      for (const { exchange, key } of queue.bindings ?? []) {
        if (exchange === '') continue
        const binding: BindingRecord = { exchange, queue: queue.name, key }
        const kvKey = bindingKey(exchange, queue.name, key)
        if (!this.#bindings.has(kvKey)) await this.#kv.put(kvKey, json(binding))
        this.#bind(kvKey, binding)
      }
    } catch (error) {
      throw new TransportError(`cannot record queue "${queue.name}": ${(error as Error).message}`, { cause: error })
    }
    // Applied now as well as through the watch, so a publish right after declaring routes.
    this.#queues.set(queue.name, record)
  }

  /**
   * The queues a message reaches. The default exchange routes to the queue named by the
   * routing key when that queue is declared; a named exchange must be declared.
   */
  async route(exchange: string, routingKey: string): Promise<readonly string[]> {
    if (exchange === '') return (await this.findQueue(routingKey)) ? [routingKey] : []
    if (!(await this.#hasExchange(exchange))) throw new TransportError(`exchange "${exchange}" is not declared`)
    const queues = this.#exchanges.route(exchange, routingKey)
    if (queues.length > 0) return queues
    // A binding declared elsewhere a moment ago may still be on its way through the watch.
    await this.#sync()
    return this.#exchanges.route(exchange, routingKey)
  }

  async #hasExchange(name: string): Promise<boolean> {
    if (!this.#exchanges.has(name)) await this.#sync()
    return this.#exchanges.has(name)
  }

  async #sync(): Promise<void> {
    try {
      await this.#mirror.sync()
    } catch (error) {
      throw new TransportError(`cannot read the topology: ${(error as Error).message}`, { cause: error })
    }
  }

  readonly #apply = (entry: KvEntry): void => {
    if (entry.operation !== 'PUT') return
    const kind = entry.key.slice(0, entry.key.indexOf('.'))
    if (kind === 'exchange') this.#declareLocal(entry.json<ExchangeRecord>())
    else if (kind === 'queue') {
      const record = entry.json<QueueRecord>()
      this.#queues.set(record.name, record)
    } else if (kind === 'binding') this.#bind(entry.key, entry.json<BindingRecord>())
  }

  #declareLocal(record: ExchangeRecord): void {
    if (this.#exchanges.has(record.name)) return
    this.#exchanges.declare(record.name, record.type)
    if (this.#pending.length === 0) return
    const ready = this.#pending.filter((b) => b.exchange === record.name)
    this.#pending = this.#pending.filter((b) => b.exchange !== record.name)
    for (const binding of ready) this.#bind(bindingKey(binding.exchange, binding.queue, binding.key), binding)
  }

  #bind(kvKey: string, binding: BindingRecord): void {
    if (this.#bindings.has(kvKey)) return
    if (!this.#exchanges.has(binding.exchange)) {
      this.#pending.push(binding)
      return
    }
    this.#exchanges.bind(binding.exchange, binding.key, binding.queue)
    this.#bindings.add(kvKey)
  }
}
