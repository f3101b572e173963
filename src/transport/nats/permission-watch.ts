/**
 * NATS reports a permissions violation asynchronously, as a `-ERR` on the connection, not as
 * the failure of the publish or subscribe that caused it: a refused publish simply goes
 * nowhere. This module turns those reports into {@link PermissionError}s for whoever is
 * waiting on the refused subject, so a caller gets an error naming it instead of a timeout,
 * a hang, or an empty answer.
 * @module
 */
import { errors as natsErrors, type NatsConnection } from '@nats-io/transport-node'
import { PermissionError } from '../../errors.js'

type Violation = InstanceType<typeof natsErrors.PermissionViolationError>
/** Told of a refusal; returns true when it had a caller waiting on it (the refusal is then that caller's to report). */
type Listener = (error: PermissionError) => boolean | void

const byConnection = new WeakMap<NatsConnection, PermissionWatch>()

/** The one {@link PermissionWatch} of a connection. */
export function permissionsOf(nc: NatsConnection): PermissionWatch {
  let watch = byConnection.get(nc)
  if (watch === undefined) byConnection.set(nc, (watch = new PermissionWatch(nc)))
  return watch
}

/** The refusal as celeriac reports it: what was refused, and where to look. */
export function permissionError(violation: Violation): PermissionError {
  const operation = violation.operation === 'publish' ? 'publish' : 'subscribe'
  return new PermissionError(
    `the NATS server refused to let this user ${operation} ${operation === 'publish' ? 'to' : 'on'} "${violation.subject}" (permissions violation): ${remedy(operation, violation.subject)}`,
    operation,
    violation.subject,
    { cause: violation },
  )
}

/**
 * What to do about a refusal. Two are mistakes of setup, not of permissions, and widening the
 * user's grants would be the wrong fix (docs audit): creating a stream or bucket, which only
 * workers may, because no worker has yet; and a reply inbox outside the user's own prefix.
 */
function remedy(operation: 'publish' | 'subscribe', subject: string): string {
  if (operation === 'publish' && /^\$JS\.API\.STREAM\.(CREATE|UPDATE)\./.test(subject)) {
    return 'only workers create streams and buckets: start a worker on this broker first, whose user may (see docs/production.md), rather than granting it to this user'
  }
  if (operation === 'subscribe' && subject.startsWith('_INBOX.')) {
    return "replies come to this connection's inbox prefix: set natsInboxPrefix (CELERIAC_NATS_INBOX_PREFIX, or ?inbox_prefix= in the URL) to the prefix this user may subscribe to, such as _INBOX.client (see natsPermissions in celeriac/nats and docs/production.md)"
  }
  return 'grant it to the user, or use a user whose role allows this (see natsPermissions in celeriac/nats and docs/production.md)'
}

/** The {@link PermissionError} in `error` or its causes, if a permissions violation is what failed. */
export function refusalIn(error: unknown): PermissionError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof PermissionError) return e
    if (e instanceof natsErrors.PermissionViolationError) return permissionError(e)
  }
  return undefined
}

/** Listens to a connection's status for permissions violations and hands each to the listeners of its subject. */
export class PermissionWatch {
  readonly #listeners = new Set<{ subjects: ReadonlySet<string> | undefined; listener: Listener }>()
  readonly #unclaimed = new Set<(error: PermissionError) => void>()

  constructor(nc: NatsConnection) {
    void this.#run(nc)
  }

  async #run(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type !== 'error' || !(status.error instanceof natsErrors.PermissionViolationError)) continue
      const error = permissionError(status.error)
      let claimed = false
      for (const { subjects, listener } of [...this.#listeners]) {
        if (subjects === undefined || subjects.has(error.subject)) claimed = listener(error) === true || claimed
      }
      if (!claimed) for (const listener of [...this.#unclaimed]) listener(error)
    }
  }

  /** Calls `listener` for each refusal no caller was waiting on (a plain publish, say), until the returned function is called. */
  onUnclaimed(listener: (error: PermissionError) => void): () => void {
    this.#unclaimed.add(listener)
    return () => void this.#unclaimed.delete(listener)
  }

  /** Calls `listener` for each refusal of one of `subjects` (every refusal when absent) until the returned function is called. */
  on(listener: Listener, subjects?: readonly string[]): () => void {
    const entry = { subjects: subjects === undefined ? undefined : new Set(subjects), listener }
    this.#listeners.add(entry)
    return () => void this.#listeners.delete(entry)
  }
}

/**
 * Runs `roundTrip` (a flush: the server answers in order, so any refusal of `subject` arrives
 * before its PONG) and rejects with the refusal of `subject` if the server sent one meanwhile.
 */
export async function refusedBy(nc: NatsConnection, subject: string, roundTrip: () => Promise<void>): Promise<void> {
  let refused: PermissionError | undefined
  const stop = permissionsOf(nc).on((error) => {
    refused ??= error
    return true
  }, [subject])
  try {
    await roundTrip()
    // The status iterator hands the refusal over a few promise hops after it was read.
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    stop()
  }
  if (refused !== undefined) throw refused
}
