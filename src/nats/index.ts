/**
 * celeriac on NATS: the JetStream transport, the KV and rpc result backends, with their typed
 * options, for apps that build their parts themselves rather than from a URL.
 * @example
 * import { createApp } from 'celeriac'
 * import { NatsTransport, NatsKvBackend } from 'celeriac/nats'
 * const url = 'nats://10.0.0.1:4222,10.0.0.2:4222'
 * export const app = createApp({
 *   name: 'proj',
 *   transport: new NatsTransport({ url, prefix: 'proj', maxDeliver: 5 }),
 *   resultBackend: new NatsKvBackend({ url, resultExpiresMs: 3_600_000 }),
 * })
 * @module
 */
export { NatsTransport, natsTransportDefaults } from '../transport/nats/nats-transport.js'
export { NatsKvBackend, DEFAULT_RESULT_BUCKET, DEFAULT_PUSHED_CAPACITY } from '../result/nats-kv/nats-kv-backend.js'
export { RpcBackend, DEFAULT_RPC_PREFIX, DEFAULT_RPC_CACHE_SIZE } from '../result/rpc/rpc-backend.js'
export { connectNats, parseNatsUrl } from '../transport/nats/connect.js'

export type { NatsTransportOptions } from '../transport/nats/nats-transport.js'
export type { NatsKvBackendOptions } from '../result/nats-kv/nats-kv-backend.js'
export type { RpcBackendOptions } from '../result/rpc/rpc-backend.js'
/** Connection options of nats.js (servers, user/pass, token, authenticator for nkeys and creds, TLS): `config.brokerTransportOptions` takes them too. */
export type { ConnectionOptions, NatsConnection } from '@nats-io/transport-node'
export { natsPermissions, natsPermissionsConfig } from './permissions.js'
export type { NatsRole, NatsPermissions, NatsPermissionsOptions } from './permissions.js'
export type { NatsConnectOptions } from '../transport/nats/connect.js'
