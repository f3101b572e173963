/**
 * What follows a finished task, decided by the worker that finished it: its link callbacks or
 * errbacks, its chain's next step, and its chord's join. Everything it needs travels in the
 * task's headers or in the chord's record: no process keeps workflow state. The decisions are
 * continuation.ts's; this file is the worker's side of them: messages and the result backend.
 * @module
 */
import { TaskState } from '../lifecycle/states.js'
import { codecFor } from '../serialization/codec.js'
import { fromWireError, toWireError, type WireError } from '../serialization/failure.js'
import { sendPlan } from './apply.js'
import { afterReady, contextAfter, nextStep, nextStepFailed, type FlowPort, type MemberOutcome } from './continuation.js'
import { planCallback } from './plan.js'
import { BackendError, TransportError } from '../errors.js'
import type { TaskHeaders } from '../protocol/envelope.js'
import { requireCapability, type ResultBackend, type TaskMeta } from '../result/backend.js'
import type { StateName } from '../lifecycle/states.js'
import type { WorkflowHost } from './host.js'

export type { WorkflowHost } from './host.js'

/** How many member results a chord's join reads at once. */
const JOIN_READS = 256

/** The worker's side of the flow: sends go out as messages, chords and outcomes live in the backend. */
function workerPort(host: WorkflowHost): FlowPort<WireError> {
  return {
    send: (plan) => sendPlan(host, plan),
    joinPart: async (ref) => {
      return requireCapability(await host.backend(), 'chords', 'chord joins').partReturn(ref.id, [ref.index], ref.size)
    },
    outcomes: async (ids) => (await readAll(await host.backend(), ids)).map(outcomeOf),
    end: (ids, state, error, cause) => endAll(host, ids, state, error, cause),
    failure: (error) => toWireError(error),
    lasting: (error) => !passing(error),
    errbacks: (headers, error) => sendErrbacks(host, headers, error),
  }
}

/**
 * A failure that may not happen again: the broker or the result backend out of reach for now.
 * A message over the server's max_payload is refused the same way every time.
 */
function passing(error: unknown): boolean {
  if (error instanceof TransportError) return (error.data as { maxPayload?: number } | undefined)?.maxPayload === undefined
  return error instanceof BackendError
}

/**
 * What follows when the chain's next step of the task in `headers` could not be sent. A
 * passing failure (the broker or the backend out of reach) of a task that `runsAgain` (acksLate:
 * it is nakked) rejects: the task runs again and sends the step then, with the same id, so the
 * broker drops a second copy. Otherwise nothing will send it again, so the rest of the chain
 * fails with the error (its chord is told), and whoever waits on it is told; this never rejects.
 */
export function nextStepUnsent(host: WorkflowHost, headers: TaskHeaders, cause: unknown, runsAgain: boolean): Promise<void> {
  const about = { id: headers.id, task: headers.task, error: cause }
  if (runsAgain && passing(cause)) {
    host.logger.warn('could not send the next step of a chain; the task runs again', about)
    return Promise.reject(cause)
  }
  host.logger.error('could not send the next step of a chain: the rest of the chain fails', about)
  return nextStepFailed(workerPort(host), headers, toWireError(cause)).catch((error: unknown) => {
    host.logger.error('could not record the failure of a chain', { ...about, error })
  })
}

function outcomeOf(meta: TaskMeta | undefined): MemberOutcome {
  if (meta?.state === TaskState.SUCCESS) return { ok: true, value: decode(meta.result, meta.contentType) }
  return { ok: false, cause: meta?.error ? `${meta.error.type}: ${meta.error.message}` : meta ? `ended ${meta.state}` : 'has no result (expired or never stored)' }
}

/**
 * Sends the `link` callbacks of a task that succeeded, in order; returns the ids they start
 * with. A callback that cannot be sent for good (it cannot take the result) fails, so that its
 * ids, listed as the task's children, do not stay PENDING.
 */
function sendLinks(host: WorkflowHost, headers: TaskHeaders, result: unknown): string[] {
  const failed = (error: unknown, ids: readonly string[]) => {
    host.logger.error('could not send a link callback', { parent: headers.id, error })
    if (ids.length > 0 && !passing(error)) {
      endAll(host, ids, TaskState.FAILURE, toWireError(error), headers).catch((cause: unknown) => host.logger.error('could not record the failure of a link callback', { parent: headers.id, error: cause }))
    }
  }
  return (headers.callbacks ?? []).flatMap((callback) => {
    try {
      const plan = planCallback(callback, contextAfter(headers, [result]))
      sendPlan(host, plan).catch((error: unknown) => failed(error, plan.taskIds))
      return plan.entryIds
    } catch (error) {
      // Not even planned: no id was given out, so nobody can be waiting on one.
      failed(error, [])
      return []
    }
  })
}

/**
 * Sends the `linkError` errbacks of a task that failed, in order, with (request, error,
 * traceback), as Celery calls them: `request` is `{ id, task, retries, rootId, parentId? }`,
 * `error` an Error rebuilt as `get()` rebuilds it (celeriac's own classes as themselves, any
 * other as a RemoteError with the original `name`, `code`, `message`, `data` and `stack`; the
 * codec carries Errors whole), `traceback` the remote stack.
 */
export function sendErrbacks(host: WorkflowHost, headers: TaskHeaders, error: WireError): void {
  const request = { id: headers.id, task: headers.task, retries: headers.retries, rootId: headers.rootId, ...(headers.parentId ? { parentId: headers.parentId } : {}) }
  const rebuilt = fromWireError(error)
  for (const errback of headers.errbacks ?? []) {
    const send = async () => sendPlan(host, planCallback(errback, contextAfter(headers, [request, rebuilt, error.stack ?? ''])))
    send().catch((cause) => host.logger.error('could not send an errback', { parent: headers.id, error: cause }))
  }
}

/**
 * For a task that succeeded: sends its link callbacks and its chain's next step, at once
 * (the next step need not wait for this task's record). Returns the children's ids, to be
 * stored with the result, and the next step's send, which the task's ack waits for: a task
 * whose next step could not be sent is not acked, so it runs again (the next step keeps its
 * id, so the broker drops a second copy).
 */
export function successors(host: WorkflowHost, headers: TaskHeaders, result: Uint8Array | undefined, contentType: string | undefined): { children: string[]; sent: Promise<void> } | undefined {
  if (!headers.callbacks && !headers.chain) return undefined
  const value = decode(result, contentType)
  const children = headers.callbacks ? sendLinks(host, headers, value) : []
  const next = nextStep(workerPort(host), headers, value)
  if (!next) return { children, sent: Promise.resolve() }
  children.push(...next.ids)
  return { children, sent: next.sent }
}

/**
 * What follows a task that reached a ready state other than SUCCESS, once its record is
 * stored: the chain's remaining steps end with the same state and error. Then, if the task
 * completes a chord member (the last step of a member, or a failed step before it), the
 * chord's join.
 */
export function continueFlow(host: WorkflowHost, headers: TaskHeaders, state: StateName, outcome: { error?: WireError }): Promise<void> {
  return afterReady(workerPort(host), headers, state, outcome.error)
}

/** Stores a ready state for tasks that will never run, so that whoever waits on them is told. */
async function endAll(host: WorkflowHost, ids: readonly string[], state: StateName, error: WireError | undefined, cause: TaskHeaders): Promise<void> {
  if (ids.length === 0) return
  const backend = await host.backend()
  const dateDone = host.clock.now()
  await Promise.all(ids.map((taskId) => {
    const meta: TaskMeta = { taskId, state, dateDone, parentId: cause.id, rootId: cause.rootId }
    if (error) meta.error = error
    return backend.store(meta)
  }))
}

async function readAll(backend: ResultBackend, ids: readonly string[]): Promise<(TaskMeta | undefined)[]> {
  const metas = new Array<TaskMeta | undefined>(ids.length)
  let next = 0
  const reader = async () => {
    while (next < ids.length) {
      const i = next++
      metas[i] = await backend.get(ids[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(JOIN_READS, ids.length) }, reader))
  return metas
}

function decode(bytes: Uint8Array | undefined, contentType: string | undefined): unknown {
  return bytes !== undefined && contentType ? codecFor(contentType as never).decode(bytes) : undefined
}
