/**
 * What follows a finished task, decided by the worker that finished it: its link callbacks or
 * errbacks, its chain's next step, and its chord's join. Everything it needs travels in the
 * task's headers or in the chord's record: no process keeps workflow state.
 * @module
 */
import { ChordError } from '../errors.js'
import { TaskState } from '../lifecycle/states.js'
import { codecFor } from '../serialization/codec.js'
import { toWireError, type WireError } from '../serialization/failure.js'
import { entryIds, freeze, send, taskIds, type FlowHost, type SendContext } from './apply.js'
import type { TaskHeaders } from '../protocol/envelope.js'
import { requireCapability, type ResultBackend, type TaskMeta } from '../result/backend.js'
import type { StateName } from '../lifecycle/states.js'
import type { Logger } from '../util/logger.js'
import type { ChordRecord, ChordRef, SignatureData } from './data.js'

/** What a worker gives this module. */
export interface WorkflowHost extends FlowHost {
  logger: Logger
}

/** How many member results a chord's join reads at once. */
const JOIN_READS = 256

function context(headers: TaskHeaders, prepend: readonly unknown[]): SendContext {
  // What follows keeps the first task's reply subject, or has none: never the worker's own,
  // where nobody waits.
  return { prepend, parentId: headers.id, rootId: headers.rootId, chain: [], replyTo: headers.replyTo ?? null }
}

/** Sends the `link` callbacks of a task that succeeded, in order; returns the ids they start with. */
function sendLinks(host: WorkflowHost, headers: TaskHeaders, result: unknown): string[] {
  return (headers.callbacks ?? []).flatMap((callback) => {
    const frozen = freeze(callback)
    send(host, frozen, context(headers, [result])).catch((error) =>
      host.logger.error('could not send a link callback', { parent: headers.id, error }))
    return entryIds(frozen)
  })
}

/** Sends the `linkError` errbacks of a task that failed, in order, with (request, error, traceback). */
export function sendErrbacks(host: WorkflowHost, headers: TaskHeaders, error: WireError): void {
  const request = { id: headers.id, task: headers.task, retries: headers.retries, rootId: headers.rootId, ...(headers.parentId ? { parentId: headers.parentId } : {}) }
  for (const errback of headers.errbacks ?? []) {
    send(host, freeze(errback), context(headers, [request, error, error.stack ?? ''])).catch((cause) =>
      host.logger.error('could not send an errback', { parent: headers.id, error: cause }))
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
  if (!headers.chain) return { children, sent: Promise.resolve() }
  const [next, ...rest] = headers.chain
  children.push(...entryIds(next))
  return { children, sent: send(host, next, { ...context(headers, [value]), chain: rest, ...(headers.chord ? { chord: headers.chord } : {}) }) }
}

/**
 * What follows a task that reached a ready state other than SUCCESS, once its record is
 * stored: the chain's remaining steps end with the same state and error. Then, if the task
 * completes a chord member (the last step of a member, or a failed step before it), the
 * chord's join.
 */
export async function continueFlow(host: WorkflowHost, headers: TaskHeaders, state: StateName, outcome: { error?: WireError }): Promise<void> {
  const chain = headers.chain
  // On SUCCESS, `successors` sent the next step, which carries the chord on.
  if (chain && state === TaskState.SUCCESS) return
  if (chain) await endAll(host, chain.flatMap(taskIds), state, outcome.error, headers)
  if (headers.chord) await joinChord(host, headers.chord)
}

/** Counts a chord member done; the report that completes the chord sends the body. */
async function joinChord(host: WorkflowHost, ref: ChordRef): Promise<void> {
  const backend = await host.backend()
  const record = await requireCapability(backend, 'chords', 'chord joins').partReturn(ref.id, [ref.index], ref.size)
  if (record) await completeChord(host, backend, record)
}

/**
 * Calls a chord's body with the list of its members' results; if one did not succeed, the
 * body fails with a ChordError naming the first such member (in header order), and its
 * errbacks are called, as Celery does.
 */
async function completeChord(host: WorkflowHost, backend: ResultBackend, record: ChordRecord): Promise<void> {
  const metas = await readAll(backend, record.results)
  const failed = metas.findIndex((meta) => meta?.state !== TaskState.SUCCESS)
  const next: SendContext = { prepend: [], rootId: record.rootId, chain: record.chain ?? [], ...(record.chord ? { chord: record.chord } : {}) }
  if (failed === -1) {
    const values = metas.map((meta) => decode(meta!.result, meta!.contentType))
    return send(host, record.body, { ...next, prepend: [values] })
  }
  const member = metas[failed]
  const id = record.results[failed]
  const cause = member?.error ? `${member.error.type}: ${member.error.message}` : member ? `ended ${member.state}` : 'has no result (expired or never stored)'
  const error = toWireError(new ChordError(`Dependency ${id} raised ${cause}`, { data: { chord: record.id, member: id, index: failed } }))
  const body = record.body
  const headers = { id: taskIds(body)[0], task: body.subtaskType === undefined ? body.task : body.subtaskType, retries: 0, rootId: record.rootId } as TaskHeaders
  if (body.subtaskType === undefined && body.options.linkError) {
    sendErrbacks(host, { ...headers, errbacks: body.options.linkError as SignatureData[] }, error)
  }
  await endAll(host, [...taskIds(body), ...(record.chain ?? []).flatMap(taskIds)], TaskState.FAILURE, error, headers)
  if (record.chord) await joinChord(host, record.chord)
}

/** Stores a ready state for tasks that will never run, so that whoever waits on them is told. */
async function endAll(host: WorkflowHost, ids: string[], state: StateName, error: WireError | undefined, cause: TaskHeaders): Promise<void> {
  if (ids.length === 0) return
  const backend = await host.backend()
  const dateDone = Date.now()
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
