import { codecFor } from '../serialization/codec.js'
import { newTaskId } from '../util/ids.js'
import type { App } from '../app/app.js'
import type { SignatureData } from '../protocol/envelope.js'
import type { WireError } from '../serialization/failure.js'
import type { InFlight } from './in-flight.js'
import type { Outcome } from '../protocol/thread-batch.js'
import type { CallOptions } from '../app/call-options.js'

function send(app: App, item: InFlight, signature: SignatureData, args: unknown[], id: string): void {
  const options: CallOptions = { ...(signature.options as CallOptions), taskId: id, parentId: item.headers.id, rootId: item.headers.rootId }
  if (Object.keys(signature.kwargs).length > 0) options.kwargs = signature.kwargs
  app.sendTask(signature.task, args, options).catch((error) =>
    app.logger.error('could not send a callback', { parent: item.headers.id, task: signature.task, error }))
}

/**
 * Sends the `link` callbacks of a task that succeeded, its result prepended to their
 * arguments unless immutable (Celery's rule). Returns their ids, the task's children.
 */
export function sendCallbacks(app: App, item: InFlight, outcome: Outcome): string[] {
  const result = outcome.result && outcome.contentType ? codecFor(outcome.contentType).decode(outcome.result) : undefined
  return (item.headers.callbacks ?? []).map((signature) => {
    const id = newTaskId()
    send(app, item, signature, signature.immutable ? signature.args : [result, ...signature.args], id)
    return id
  })
}

/** Sends the `linkError` errbacks of a task that failed, with (request, error, traceback). */
export function sendErrbacks(app: App, item: InFlight, error: WireError): void {
  const { id, task, retries, rootId } = item.headers
  for (const signature of item.headers.errbacks ?? []) {
    send(app, item, signature, [{ id, task, retries, rootId }, error, error.stack ?? '', ...signature.args], newTaskId())
  }
}
