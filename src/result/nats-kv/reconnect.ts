import type { NatsConnection } from '@nats-io/transport-node'

const GIVE_UP_MS = 30_000

/**
 * Runs a request against the server, retrying while the connection is only reconnecting (a
 * nats-server restart, a network blip): a result write or a `get()` should ride that out, as
 * the client's publishes do, instead of failing the task. Gives up after 30 s or once the
 * connection is closed.
 */
export async function acrossReconnects<T>(nc: NatsConnection, request: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + GIVE_UP_MS
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    try {
      return await request()
    } catch (error) {
      if (nc.isClosed() || Date.now() + wait > deadline || !transient(error)) throw error
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}

function transient(error: unknown): boolean {
  const text = `${(error as Error)?.name ?? ''} ${(error as Error)?.message ?? ''} ${((error as Error)?.cause as Error)?.message ?? ''}`.toLowerCase()
  return /disconnect|timeout|timed out|reconnect|no responders|connection closed|stale/.test(text)
}
