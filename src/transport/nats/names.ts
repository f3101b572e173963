import { createHash } from 'node:crypto'

// Names that are already safe everywhere NATS puts them (subject tokens, stream and consumer
// names, KV keys) are used as they are, so streams stay readable in `nats stream ls`.
const SAFE = /^[A-Za-z0-9_-]+$/
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * A name as one token that is valid in a subject, a stream name and a KV key. Safe names
 * pass unchanged; any other name becomes `=` and the hex of its UTF-8 bytes. `=` is the one
 * character all three allow that a safe name never contains, so the two forms cannot collide.
 */
export function token(name: string): string {
  if (SAFE.test(name)) return name
  return '=' + Buffer.from(encoder.encode(name)).toString('hex')
}

/** The name a {@link token} stands for. */
export function untoken(value: string): string {
  if (!value.startsWith('=')) return value
  return decoder.decode(Buffer.from(value.slice(1), 'hex'))
}

/** True when `prefix` can namespace streams, buckets and subjects. */
export function isPrefix(prefix: unknown): prefix is string {
  return typeof prefix === 'string' && SAFE.test(prefix)
}

/** Headers a queued message carries besides `Nats-Msg-Id`. */
export const Header = {
  /** Exchange the message was published to, URI-encoded; absent for the default exchange. */
  Exchange: 'Celeriac-Exchange',
  /** Routing key, URI-encoded; absent when it is the queue's own name on the default exchange. */
  RoutingKey: 'Celeriac-Routing-Key',
  /** Epoch ms before which the message must not be delivered. */
  NotBefore: 'Celeriac-Not-Before',
  Priority: 'Celeriac-Priority',
  MsgId: 'Nats-Msg-Id',
  /** Dead letters: why, from which queue (URI-encoded), after how many deliveries, when. */
  Reason: 'Celeriac-Reason',
  Queue: 'Celeriac-Queue',
  DeliveryCount: 'Celeriac-Delivery-Count',
  At: 'Celeriac-At',
} as const

/** The durable pull consumer every node shares on a queue's stream: competing consumers. */
export const WORKERS = 'workers'

/** Every stream, bucket and subject name of one {@link prefix}, so apps can share a server. */
export class Names {
  readonly prefix: string
  readonly #streamPrefix: string

  constructor(prefix: string) {
    this.prefix = prefix
    this.#streamPrefix = prefix.toUpperCase()
  }

  /** The work-queue stream of a queue. */
  queueStream(queue: string): string {
    return `${this.#streamPrefix}_Q_${token(queue)}`
  }

  /** The one subject of a queue's stream. */
  queueSubject(queue: string): string {
    return `${this.prefix}.q.${token(queue)}`
  }

  /** The stream holding every queue's dead letters. */
  get deadLetterStream(): string {
    return `${this.#streamPrefix}_DLQ`
  }

  /** The dead-letter subject of one queue, or of all with `>`. */
  deadLetterSubject(queue: string | '>'): string {
    return `${this.prefix}.dlq.${queue === '>' ? '>' : token(queue)}`
  }

  /** The KV bucket of exchanges, queues and bindings. */
  get topologyBucket(): string {
    return `${this.prefix}-topology`
  }

  /** The KV bucket of revoked task ids. */
  get revokedBucket(): string {
    return `${this.prefix}-revoked`
  }

  /** The KV bucket of cluster-wide rate limits: when each limit's next slot is free. */
  get rateBucket(): string {
    return `${this.prefix}-rate`
  }

  /** The KV bucket of task results (`nats://` backend); see {@link resultBucketNames} for what it brings. */
  get resultsBucket(): string {
    return `${this.prefix}-results`
  }

  /** The KV bucket of beat state (schedules' last runs, the leader lease). */
  get beatBucket(): string {
    return `${this.prefix}-beat`
  }

  /** The core NATS subject of a publish/subscribe subject or pattern. */
  busSubject(subject: string): string {
    return `${this.prefix}.bus.${subject}`
  }

  /** The subject handlers see: the bus subject without its prefix. */
  fromBus(subject: string): string {
    return subject.slice(this.prefix.length + 5)
  }
}

/** The namespace of the names celeriac has always used: an app that sets none keeps them. */
export const DEFAULT_NAMESPACE = 'celeriac'

/**
 * Every name a result bucket brings: its stream, the object store of large results, the
 * chords bucket, and the subjects its writes are republished on (what key watches subscribe to).
 */
export function resultBucketNames(bucket: string): { stream: string; large: string; chords: string; republish: { src: string; dest: string }; watchBase: string } {
  return {
    stream: `KV_${bucket}`,
    large: `${bucket}-large`,
    chords: `${bucket}-chords`,
    republish: { src: `$KV.${bucket}.>`, dest: `_kvr.${bucket}.>` },
    watchBase: `_kvr.${bucket}`,
  }
}

/** Topology KV key of an exchange. */
export function exchangeKey(exchange: string): string {
  return `exchange.${token(exchange)}`
}

/** Topology KV key of a queue. */
export function queueKey(queue: string): string {
  return `queue.${token(queue)}`
}

/**
 * Rate-limit KV key of a limit name: each dot-separated part as a {@link token}, so that
 * `tasks.add` stays `tasks.add` in `nats kv ls`. Tokens contain no dot, so the mapping is
 * one-to-one; an empty part becomes `=`, which is a valid token.
 */
export function rateKey(name: string): string {
  return name.split('.').map(token).join('.')
}

/**
 * Topology KV key of a binding. The binding key is hashed: `*`, `#` and long keys are not
 * allowed in KV keys, and the record holds the key itself.
 */
export function bindingKey(exchange: string, queue: string, key: string): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 32)
  return `binding.${token(exchange)}.${token(queue)}.${hash}`
}
