/**
 * What follows a finished task: its chain's next step, the failure of the steps that will not
 * run, and its chord's join. Decided here once, from the task's workflow headers, for the
 * worker (flow.ts: messages and the result backend) and for `call()` (call-local.ts: runs here,
 * keeps outcomes in memory). Each gives a {@link FlowPort}; `E` is how it keeps an error.
 * @module
 */
import { ChordError } from '../errors.js'
import { TaskState, type StateName } from '../lifecycle/states.js'
import { entryIds, planSends, taskIds, type SendContext, type SendPlan } from './plan.js'
import type { TaskHeaders } from '../protocol/envelope.js'
import type { ChordRecord, ChordRef, SignatureData } from './data.js'

/** A member's outcome as the chord's join reads it. */
export type MemberOutcome = { ok: true; value: unknown } | { ok: false; cause: string }

/** Where what follows a task goes, and where chords and outcomes are kept. */
export interface FlowPort<E> {
  /** Sends (or runs) a planned part. */
  send(plan: SendPlan): Promise<void>
  /** Counts member `ref.index` of chord `ref.id` done; the chord's record once every member is. */
  joinPart(ref: ChordRef): Promise<ChordRecord | undefined>
  /** The outcomes of these tasks, in order; a failure says why in words. */
  outcomes(ids: readonly string[]): Promise<MemberOutcome[]>
  /** Records a ready state for tasks that will never run, so that whoever waits on them is told. */
  end(ids: readonly string[], state: StateName, error: E | undefined, cause: TaskHeaders): Promise<void>
  /** The port's form of an error that fails a task that never ran (a chord's ChordError, a send's error). */
  failure(error: Error): E
  /**
   * True when a send that failed with `error` would fail the same way again (a step that cannot
   * take the value it is given, a value that cannot be encoded): what was to be sent fails
   * instead. False for a passing failure (the broker or the backend out of reach), which the
   * caller of the send handles.
   */
  lasting(error: unknown): boolean
  /** Sends the errbacks of a chord body that fails (a task that cannot run, given its request). */
  errbacks(headers: TaskHeaders, error: E): void
}

/** What follows a task is sent from it: its id is the parent; the workflow's root and reply subject stay. */
export function contextAfter(headers: TaskHeaders, prepend: readonly unknown[]): SendContext {
  // Never the worker's own reply subject, where nobody waits.
  return { prepend, parentId: headers.id, rootId: headers.rootId, chain: [], replyTo: headers.replyTo ?? null }
}

/**
 * For a task that succeeded with `value`: sends its chain's next step, which carries the rest
 * of the chain and the chord on. Returns the step's entry ids and its send, or nothing when
 * the task is no chain's step.
 */
export function nextStep<E>(port: FlowPort<E>, headers: TaskHeaders, value: unknown): { ids: string[]; sent: Promise<void> } | undefined {
  if (!headers.chain) return undefined
  const [next, ...rest] = headers.chain
  const context = { ...contextAfter(headers, [value]), chain: rest, ...(headers.chord ? { chord: headers.chord } : {}) }
  return { ids: entryIds(next), sent: sendPart(port, next, context) }
}

/** Plans and sends a frozen part; a part that cannot be planned is a rejection, like a failed send. */
export function sendPart<E>(port: FlowPort<E>, data: SignatureData, context: SendContext): Promise<void> {
  try {
    return port.send(planSends(data, context))
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * What follows a task once its ready state is recorded: unless it succeeded (then
 * {@link nextStep} carried the chain on), the chain's remaining steps end with the same state
 * and error. Then, if the task completes a chord member, the chord's join.
 */
export async function afterReady<E>(port: FlowPort<E>, headers: TaskHeaders, state: StateName, error: E | undefined): Promise<void> {
  const chain = headers.chain
  if (chain && state === TaskState.SUCCESS) return
  if (chain) await port.end(chain.flatMap(taskIds), state, error, headers)
  if (headers.chord) await joinChord(port, headers.chord, headers.id)
}

/**
 * For a task that succeeded whose chain's next step cannot be sent for good
 * ({@link FlowPort.lasting}): the remaining steps, that one included, end with `error` and the
 * chord is told, as when a step fails. The task keeps its own SUCCESS.
 */
export function nextStepFailed<E>(port: FlowPort<E>, headers: TaskHeaders, error: E): Promise<void> {
  return afterReady(port, headers, TaskState.FAILURE, error)
}

/** Counts member `by` of a chord done; the report that completes the chord calls the body. */
async function joinChord<E>(port: FlowPort<E>, ref: ChordRef, by: string): Promise<void> {
  const record = await port.joinPart(ref)
  if (record) await completeChord(port, record, by)
}

/**
 * Calls a chord's body with the list of its members' results; if one did not succeed, the
 * body fails with a ChordError naming the first such member (in header order), and its
 * errbacks are called, as Celery does. A body that cannot be sent for good (it cannot take
 * the list) fails the same way, with the send's error.
 */
async function completeChord<E>(port: FlowPort<E>, record: ChordRecord, by: string): Promise<void> {
  const outcomes = await port.outcomes(record.results)
  // The body's parent is the member whose report completed the chord (Celery's parent_id is
  // the task that sent it, that same member): without one the body would look like an entry
  // of its canvas, and the dashboard's graph could not place it after the header.
  const next: SendContext = { prepend: [], parentId: by, rootId: record.rootId, chain: record.chain ?? [], ...(record.chord ? { chord: record.chord } : {}) }
  const failed = outcomes.findIndex((outcome) => !outcome.ok)
  if (failed === -1) {
    const values = outcomes.map((outcome) => (outcome as { value: unknown }).value)
    return sendPart(port, record.body, { ...next, prepend: [values] }).catch((cause: unknown) => {
      // A body that cannot take the results fails, as a step of a chain does: never left PENDING.
      if (!port.lasting(cause)) throw cause
      return failBody(port, record, port.failure(cause instanceof Error ? cause : new Error(String(cause))))
    })
  }
  const id = record.results[failed]
  const cause = (outcomes[failed] as { cause: string }).cause
  return failBody(port, record, port.failure(new ChordError(`Dependency ${id} raised ${cause}`, { data: { chord: record.id, member: id, index: failed } })))
}

/** A chord body that will not run: its errbacks are called, it and the rest of its chain end with `error`, and its own chord is told. */
async function failBody<E>(port: FlowPort<E>, record: ChordRecord, error: E): Promise<void> {
  const body = record.body
  const headers = { id: taskIds(body)[0], task: body.subtaskType === undefined ? body.task : body.subtaskType, retries: 0, rootId: record.rootId } as TaskHeaders
  if (body.subtaskType === undefined && body.options.linkError) {
    port.errbacks({ ...headers, errbacks: body.options.linkError as SignatureData[] }, error)
  }
  await port.end([...taskIds(body), ...(record.chain ?? []).flatMap(taskIds)], TaskState.FAILURE, error, headers)
  if (record.chord) await joinChord(port, record.chord, headers.id)
}
