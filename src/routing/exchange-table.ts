import { TransportError } from '../errors.js'
import { compileTopic, type TopicPredicate } from './topic.js'
import type { ExchangeType } from '../transport/transport.js'

interface TopicBinding<Q> {
  key: string
  queue: Q
  match: TopicPredicate
}

interface Exchange<Q> {
  readonly type: ExchangeType
  /** direct: binding key to queues. */
  readonly direct: Map<string, Q[]>
  /** fanout: each bound queue once, whatever its binding keys. */
  readonly fanout: Q[]
  readonly topic: TopicBinding<Q>[]
  /** topic: routing key to queues, so a hot routing key is matched against the bindings once. */
  readonly routes: Map<string, Q[]>
}

// Routing keys usually come from a small set (task names); the cap guards against keys
// generated per message.
const ROUTE_CACHE_LIMIT = 10_000

/**
 * The named exchanges of a broker and their bindings, resolving a routing key to the queues
 * it reaches. Each queue appears at most once in a route, however many bindings match.
 */
export class ExchangeTable<Q> {
  readonly #exchanges = new Map<string, Exchange<Q>>()

  /** Declares an exchange; redeclaring with the same type does nothing. */
  declare(name: string, type: ExchangeType): void {
    const existing = this.#exchanges.get(name)
    if (existing !== undefined) {
      if (existing.type !== type) {
        throw new TransportError(`exchange "${name}" is already declared as ${existing.type}, not ${type}`)
      }
      return
    }
    this.#exchanges.set(name, { type, direct: new Map(), fanout: [], topic: [], routes: new Map() })
  }

  /** True when the exchange is declared. */
  has(name: string): boolean {
    return this.#exchanges.has(name)
  }

  /** Binds `queue` to a declared exchange with `key`; binding twice does nothing. */
  bind(name: string, key: string, queue: Q): void {
    const exchange = this.#require(name)
    switch (exchange.type) {
      case 'direct': {
        const queues = exchange.direct.get(key)
        if (queues === undefined) exchange.direct.set(key, [queue])
        else if (!queues.includes(queue)) queues.push(queue)
        break
      }
      case 'fanout':
        if (!exchange.fanout.includes(queue)) exchange.fanout.push(queue)
        break
      case 'topic':
        if (!exchange.topic.some((b) => b.key === key && b.queue === queue)) {
          exchange.topic.push({ key, queue, match: compileTopic(key) })
          exchange.routes.clear()
        }
        break
    }
  }

  /** The queues a message published to `name` with `routingKey` reaches; do not mutate. */
  route(name: string, routingKey: string): readonly Q[] {
    const exchange = this.#require(name)
    switch (exchange.type) {
      case 'direct':
        return exchange.direct.get(routingKey) ?? []
      case 'fanout':
        return exchange.fanout
      case 'topic': {
        let queues = exchange.routes.get(routingKey)
        if (queues === undefined) {
          queues = []
          for (const binding of exchange.topic) {
            if (binding.match(routingKey) && !queues.includes(binding.queue)) queues.push(binding.queue)
          }
          if (exchange.routes.size >= ROUTE_CACHE_LIMIT) exchange.routes.clear()
          exchange.routes.set(routingKey, queues)
        }
        return queues
      }
    }
  }

  #require(name: string): Exchange<Q> {
    const exchange = this.#exchanges.get(name)
    if (exchange === undefined) throw new TransportError(`exchange "${name}" is not declared`)
    return exchange
  }
}
