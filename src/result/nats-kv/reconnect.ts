import type { NatsConnection } from '@nats-io/transport-node'

const GIVE_UP_MS = 30_000

/**
 * Runs a request against the server, retrying while the connection is only reconnecting (a
 * nats-server restart, a network blip): a result write or a `get()` should ride that out, as
 * the client's publishes do, instead of failing the task. Gives up after 30 s or once the
 * connection is closed.
 */
export function acrossReconnects<T>(nc: NatsConnection, request: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + GIVE_UP_MS
  // The first try without an async frame: every result write makes one, and it nearly always succeeds.
  let first: Promise<T>
  try {
    first = request()
  } catch (error) {
    first = Promise.reject(error)
  }
  return first.catch((error: unknown) => retry(nc, request, error, deadline))
}

async function retry<T>(nc: NatsConnection, request: () => Promise<T>, error: unknown, deadline: number): Promise<T> {
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    if (nc.isClosed() || Date.now() + wait > deadline || !transient(error)) throw error
    await new Promise((resolve) => setTimeout(resolve, wait))
    try {
      return await request()
    } catch (next) {
      error = next
    }
  }
}

function transient(error: unknown): boolean {
  const text = `${(error as Error)?.name ?? ''} ${(error as Error)?.message ?? ''} ${((error as Error)?.cause as Error)?.message ?? ''}`.toLowerCase()
  return /disconnect|timeout|timed out|reconnect|no responders|connection closed|stale/.test(text)
}
