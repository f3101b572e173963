// What the auth and TLS tests do once a server is configured: send a task through a worker node
// of the secure fixture app, and connect a `celeriac/nats` transport.
import { NatsTransport } from '../../src/nats/index.js'
import type { ConfigValues } from '../../src/config/defaults.js'
import { app, add } from '../fixtures/secure-app.js'

/** Every auth and TLS key back at its default, so one case's settings never leak into the next. */
const UNSET: Partial<ConfigValues> = { natsUser: '', natsPassword: '', natsToken: '', natsCredentials: '', natsNkeySeedFile: '', natsTls: {} }

/** Sends one task through a worker node of the app configured with `config`: proves the client and the worker both authenticated. */
export async function roundTrip(config: Partial<ConfigValues>): Promise<number> {
  app.conf.update({ ...UNSET, backend: 'nats://', ...config })
  const node = app.worker({ concurrency: 1 })
  await node.start()
  try {
    return await (await add.delay(2, 3)).get({ timeout: 10 })
  } finally {
    await node.stop()
    await app.close()
  }
}

/** Connects a `celeriac/nats` transport with `options`, then closes it. */
export async function connects(url: string, options: ConstructorParameters<typeof NatsTransport>[0]['connectionOptions'] = {}): Promise<void> {
  const transport = new NatsTransport({ url, connectionOptions: options })
  await transport.connect()
  await transport.close()
}
