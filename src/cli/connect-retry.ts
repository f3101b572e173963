import { setTimeout as sleep } from 'node:timers/promises'
import { TransportError } from '../errors.js'
import type { App } from '../app/app.js'

// Celery's broker_connection_retry_on_startup and broker_connection_max_retries (100), with its
// backoff: 2 s, then 2 s more each time, up to 30 s.
const MAX_RETRIES = 100
const FIRST_MS = 2_000
const STEP_MS = 2_000
const MAX_MS = 30_000

// What a broker that is not up yet (or a name not yet in DNS) looks like; a refused login, a
// bad certificate or a malformed URL will not change by waiting, and fails at once.
const NOT_UP_YET = /connection refused|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET|timeout|timed out/i

/**
 * Connects the app's transport, waiting for a broker that is not up yet as Celery's worker does
 * ("Cannot connect to ...: Connection refused. Trying again in 2.00 seconds... (1/100)"): a
 * worker started with, or before, its broker (a container restart, a deploy) comes up once it
 * is there instead of exiting. `say` gets one line per failed try.
 */
export async function connectWithRetry(app: App, say: (line: string) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await app.transport()
      return
    } catch (error) {
      // A TLS handshake that times out is a client certificate the server wants (see connect.ts's hint).
      if (!(error instanceof TransportError) || !NOT_UP_YET.test(error.message) || /over TLS/.test(error.message) || attempt > MAX_RETRIES) throw error
      const waitMs = Math.min(MAX_MS, FIRST_MS + STEP_MS * (attempt - 1))
      say(`${error.message}. Trying again in ${(waitMs / 1000).toFixed(2)} seconds... (${attempt}/${MAX_RETRIES})`)
      await sleep(waitMs)
    }
  }
}
