/**
 * How many copies JetStream keeps of every stream, bucket and durable consumer celeriac
 * creates: `config.natsReplicas`, or by default what the server's cluster can hold.
 * @module
 */
import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream'
import type { NatsConnection, ServerInfo } from '@nats-io/transport-node'
import type { KV, Kvm, KvOptions } from '@nats-io/kv'
import { ConfigError, TransportError } from '../../errors.js'

/** The replica count production clusters use: one server can be lost (or restarted) without losing data or availability. */
export const CLUSTER_REPLICAS = 3

/**
 * The default replica count for the server a connection reached: 3 when it is a JetStream
 * server in a cluster whose INFO lists three or more servers (`connect_urls`: every server
 * of the cluster that advertises a client URL), else 1.
 *
 * @remarks
 * Read from the connection's INFO because it needs no system account: a client user can read
 * it. A cluster started with `no_advertise` lists no servers, so it gets 1 here: set
 * `natsReplicas` there.
 */
export function clusterReplicas(info: Partial<ServerInfo> | undefined): number {
  if (info?.jetstream !== true || !info.cluster) return 1
  return (info.connect_urls?.length ?? 0) >= CLUSTER_REPLICAS ? CLUSTER_REPLICAS : 1
}

/** Whether `n` is a valid replica count (1 to 5, as JetStream allows). */
export function isReplicas(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 5
}

/**
 * The replica count to use on `nc`: `configured` when given, else {@link clusterReplicas}.
 * More than one copy asked of a server that is not in a cluster is a ConfigError that says so
 * (JetStream's own answer, "replicas > 1 not supported in non-clustered mode", names neither
 * the setting nor the fix).
 */
export function replicasFor(nc: NatsConnection, configured: number | undefined): number {
  if (configured === undefined) return clusterReplicas(nc.info)
  if (!isReplicas(configured)) throw new ConfigError(`natsReplicas must be an integer from 1 to 5, got ${String(configured)}`)
  const info = nc.info
  if (configured > 1 && info !== undefined && !info.cluster) {
    throw new ConfigError(
      `natsReplicas is ${configured}, but the NATS server ${info.server_name ?? ''} at ${info.host}:${info.port} is not in a cluster, where JetStream keeps one copy: ` +
        'set natsReplicas (CELERIAC_NATS_REPLICAS) to 1 or leave it unset, or connect to a cluster of at least that many JetStream servers',
    )
  }
  return configured
}

/**
 * Makes an existing stream keep `replicas` copies: changed in place where JetStream allows it
 * (a clustered server scales a stream up or down), otherwise a TransportError that says what
 * the stream has, what was asked, and how to fix it. `what` names the stream for people
 * ("queue celery", "the results bucket").
 */
export async function ensureReplicas(jsm: JetStreamManager, stream: string, replicas: number, what: string, config?: StreamConfig): Promise<void> {
  const current = config ?? (await jsm.streams.info(stream)).config
  const has = current.num_replicas || 1
  if (has === replicas) return
  try {
    await jsm.streams.update(stream, { ...current, num_replicas: replicas })
    await scaled(jsm, stream, replicas)
    // Every process that declares it brings a shared stream to its own natsReplicas: one set
    // differently (one worker at 1 on a cluster at 3) changes it for the whole cluster.
    process.emitWarning(`${what} (stream ${stream}) had ${has} replica(s) and now has ${replicas}, as this process's natsReplicas asks (set or default); every process that declares it does the same, so keep CELERIAC_NATS_REPLICAS alike on all of them`, { type: 'CeleriacWarning', code: 'CELERIAC_REPLICAS' })
  } catch (error) {
    throw new TransportError(
      `${what} (stream ${stream}) has ${has} replica(s) and natsReplicas asks for ${replicas}, which the server refused: ${(error as Error).message}. ` +
        `Set natsReplicas (CELERIAC_NATS_REPLICAS) to ${has}, or change the stream: nats stream edit ${stream} --replicas ${replicas}`,
      { cause: error },
    )
  }
}

/**
 * Opens a KV bucket, creating it with `replicas` copies when missing, and brings an existing
 * one to `replicas` (see {@link ensureReplicas}). `create` keeps an existing bucket's other
 * settings.
 */
export async function openBucket(kvm: Kvm, jsm: JetStreamManager, bucket: string, options: Partial<KvOptions>, replicas: number, what: string): Promise<KV> {
  const kv = await kvm.create(bucket, { ...options, replicas })
  await ensureReplicas(jsm, `KV_${bucket}`, replicas, what)
  return kv
}

/** How long a scaled stream may take to elect its leader and catch its new replicas up. */
const SCALE_SETTLE_MS = 30_000

/**
 * Waits until a stream just scaled answers with a leader and its replicas: its raft group (and
 * its consumers') is formed anew, and until then JetStream lets requests about it time out.
 */
async function scaled(jsm: JetStreamManager, stream: string, replicas: number): Promise<void> {
  await untilAnswered(async () => {
    const { cluster } = await jsm.streams.info(stream)
    if (!cluster?.leader || (cluster.replicas?.length ?? 0) < replicas - 1) throw new Error(`stream ${stream} is still forming its ${replicas} replicas: timeout`)
  })
}

/**
 * Runs a JetStream API request again while it times out: right after a stream or its consumer
 * changes leader or is scaled, the cluster answers only once the new raft group has a leader.
 * Other errors, and a timeout past {@link SCALE_SETTLE_MS}, are thrown.
 */
export async function untilAnswered<T>(request: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + SCALE_SETTLE_MS
  for (let wait = 100; ; wait = Math.min(wait * 2, 1_000)) {
    try {
      return await request()
    } catch (error) {
      if (!/timeout|timed out/i.test((error as Error)?.message ?? '') || performance.now() + wait > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}
