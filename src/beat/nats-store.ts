import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import { TransportError } from '../errors.js'
import { Names, token } from '../transport/nats/names.js'
import { openBucket, replicasFor } from '../transport/nats/replicas.js'
import type { NatsConnection } from '@nats-io/transport-node'
import type { BeatStore, Stored } from './store.js'

/** The KV bucket of every app's beat state in the default namespace. */
export const BEAT_BUCKET = 'celeriac-beat'

/**
 * Beat state in a JetStream KV bucket shared by every beat of an app, whichever host it runs
 * on: keys are `<app>.<key>`, conditional writes are KV `create` and `update` (compare-and-set
 * on the key's revision).
 *
 * @remarks
 * The bucket has no TTL: on NATS 2.9 a TTL is bucket-wide and expiry emits no event, so the
 * lease expires by time as its readers see it (see `lease.ts`), not by the server.
 */
export class NatsBeatStore implements BeatStore {
  readonly #nc: NatsConnection
  readonly #prefix: string
  readonly #bucket: string
  readonly #replicas: number | undefined
  readonly #readOnly: boolean
  #kv: Promise<KV | undefined> | undefined

  /**
   * @param app the app's name, which keeps apps that share a server apart
   * @param options `namespace` (`config.namespace`) names the bucket `<namespace>-beat`;
   *   `replicas` (`config.natsReplicas`) defaults to what the cluster can hold; `readOnly`
   *   opens the bucket as it is, never creating or changing it (what a `monitor` user may
   *   do): until a beat has made it every key reads as absent, and writes throw
   */
  constructor(nc: NatsConnection, app: string, options: { namespace?: string; replicas?: number; readOnly?: boolean } = {}) {
    this.#nc = nc
    this.#prefix = token(app)
    this.#bucket = options.namespace === undefined ? BEAT_BUCKET : new Names(options.namespace).beatBucket
    this.#replicas = options.replicas
    this.#readOnly = options.readOnly === true
  }

  describe(key: string): string {
    return `key "${this.#key(key)}" in KV bucket ${this.#bucket}`
  }

  async get(key: string): Promise<Stored | undefined> {
    const entry = await this.#call('read', key, (kv) => kv.get(this.#key(key)))
    return entry && entry.operation === 'PUT' ? { value: entry.string(), revision: entry.revision } : undefined
  }

  create(key: string, value: string): Promise<number | undefined> {
    return this.#call('create', key, (kv) => kv.create(this.#key(key), value))
  }

  update(key: string, value: string, revision: number): Promise<number | undefined> {
    return this.#call('update', key, (kv) => kv.update(this.#key(key), value, revision))
  }

  /** Runs `op` on the bucket: a lost compare-and-set or a missing bucket (read-only) reads as `undefined`, any other failure throws. */
  async #call<T>(what: string, key: string, op: (kv: KV) => Promise<T>): Promise<T | undefined> {
    if (this.#readOnly && what !== 'read') throw new TransportError(`beat: cannot ${what} "${key}" in KV bucket ${this.#bucket}: this store was opened read-only`)
    try {
      const kv = await this.#open()
      return kv === undefined ? undefined : await op(kv)
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) return undefined
      throw new TransportError(`beat: cannot ${what} "${key}" in KV bucket ${this.#bucket}: ${(error as Error).message}`, { cause: error })
    }
  }

  #key(key: string): string {
    return `${this.#prefix}.${key.split('.').map(token).join('.')}`
  }

  #open(): Promise<KV | undefined> {
    if (this.#readOnly) {
      if (this.#kv === undefined) {
        const bound = (this.#kv = this.#bind())
        // Not kept while the bucket is missing: a beat may make it at any time.
        const forget = () => void (this.#kv === bound && (this.#kv = undefined))
        bound.then((kv) => kv ?? forget(), forget)
      }
      return this.#kv
    }
    // create() opens the bucket when it exists.
    const replicas = replicasFor(this.#nc, this.#replicas)
    this.#kv ??= jetstreamManager(this.#nc).then((jsm) => openBucket(new Kvm(this.#nc), jsm, this.#bucket, { history: 1 }, replicas, 'the beat bucket'))
    this.#kv.catch(() => (this.#kv = undefined))
    return this.#kv
  }

  /**
   * The bucket as it is, `undefined` while no beat has made it. Its stream info says whether
   * it exists and whether it answers direct gets (all a monitor may ask of it): `Kvm.open`
   * alone checks nothing and would read with STREAM.MSG.GET.
   */
  async #bind(): Promise<KV | undefined> {
    const jsm = await jetstreamManager(this.#nc)
    let direct: boolean
    try {
      direct = (await jsm.streams.info(`KV_${this.#bucket}`)).config.allow_direct === true
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return undefined
      throw error
    }
    return new Kvm(this.#nc).open(this.#bucket, { allow_direct: direct })
  }
}
