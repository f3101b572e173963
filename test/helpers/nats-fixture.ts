/**
 * The NATS CLI test files' common ground: a real nats-server, and the app of
 * test/fixtures/nats-app.ts on it, in this process and in the worker and CLI processes a test
 * starts (through `env`, which names the server).
 */
import { fileURLToPath } from 'node:url'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'

/** The fixture app's module, for `-A` and worker processes. */
export const natsAppModule = fileURLToPath(new URL('../fixtures/nats-app.ts', import.meta.url))

export interface NatsFixture {
  server: NatsServer
  /** The fixture module, imported here with the server in the environment. */
  f: typeof import('../fixtures/nats-app.js')
  /** What a worker or CLI process needs to reach the server. */
  env: Record<string, string>
  /** Closes the app, then stops the server and removes its store: after the file's processes are stopped. */
  close(): Promise<void>
}

/** Starts the server and imports the fixture app on it. */
export async function startNatsFixture(): Promise<NatsFixture> {
  const server = await startNatsServer()
  process.env.CELERIAC_BROKER_URL = server.url
  const f = await import('../fixtures/nats-app.js')
  return {
    server,
    f,
    env: { CELERIAC_BROKER_URL: server.url },
    close: async () => {
      await f.app.close()
      await server.cleanup()
    },
  }
}
