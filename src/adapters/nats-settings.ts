import type { ConfigValues } from '../config/defaults.js'
import type { NatsConnectOptions } from '../transport/nats/connect.js'

/** The config keys that say how to authenticate to NATS and whether to use TLS. */
export type NatsSecurityConfig = Pick<
  ConfigValues,
  'natsUser' | 'natsPassword' | 'natsToken' | 'natsCredentials' | 'natsNkeySeedFile' | 'natsTls' | 'natsInboxPrefix' | 'brokerTransportOptions'
>

/**
 * The NATS connection options an app's config asks for: the `nats*` keys, then
 * `brokerTransportOptions` over them (its keys are nats.js's own). Credentials in the URL
 * win over both (see `parseNatsUrl`). Files are read when a connection opens, not here.
 */
export function natsOptionsFromConfig(conf: NatsSecurityConfig): NatsConnectOptions {
  const options: NatsConnectOptions = {}
  if (conf.natsUser !== '') options.user = conf.natsUser
  if (conf.natsPassword !== '') options.pass = conf.natsPassword
  if (conf.natsToken !== '') options.token = conf.natsToken
  if (conf.natsCredentials !== '') options.credsFile = conf.natsCredentials
  if (conf.natsNkeySeedFile !== '') options.nkeySeedFile = conf.natsNkeySeedFile
  if (conf.natsInboxPrefix !== '') options.inboxPrefix = conf.natsInboxPrefix
  const { ca, cert, key } = conf.natsTls
  if (ca !== undefined || cert !== undefined || key !== undefined) {
    options.tls = { ...(ca !== undefined ? { caFile: ca } : {}), ...(cert !== undefined ? { certFile: cert } : {}), ...(key !== undefined ? { keyFile: key } : {}) }
  }
  return { ...options, ...(conf.brokerTransportOptions as NatsConnectOptions) }
}
