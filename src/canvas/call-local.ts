/**
 * Calling a canvas here, now, without messages (`call()`): the same plan as sending it, run by
 * a local executor. Each planned task runs through the app's `runLocal`, and what follows it
 * (the chain's next step, a chord's join, the failure of the steps that will not run) is
 * decided by continuation.ts exactly as a worker decides it; outcomes and chord counts live in
 * memory for the length of the call. Link callbacks and errbacks are not called, as Celery's
 * `sig()` does not call them.
 * @module
 */
import { TaskState, type StateName } from '../lifecycle/states.js'
import { toWireError } from '../serialization/failure.js'
import { afterReady, nextStep, type FlowPort, type MemberOutcome } from './continuation.js'
import { planCanvas, type NewId, type PlannedSend, type ResultShape, type SendPlan } from './plan.js'
import type { TaskHeaders } from '../protocol/envelope.js'
import type { ChordRecord, ChordRef, SignatureData } from './data.js'
import type { RunLocal } from './host.js'

/**
 * Runs a canvas here and resolves to what its result handle's `get()` would: the last step's
 * result for a chain, the list of results for a group, the body's result for a chord. It
 * rejects as `get()` would too: with the failing step's error, a group's first failure in
 * member order, or a chord's ChordError.
 */
export async function callCanvas(runLocal: RunLocal, data: SignatureData, args: readonly unknown[], newId?: NewId): Promise<unknown> {
  const plan = planCanvas(data, args, {}, newId)
  const run = new LocalRun(runLocal)
  await run.send(plan)
  return run.valueOf(plan.result)
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

/** One call's executor: the {@link FlowPort} that runs tasks here and keeps their outcomes. */
class LocalRun implements FlowPort<unknown> {
  readonly #runLocal: RunLocal
  readonly #outcomes = new Map<string, Outcome>()
  readonly #chords = new Map<string, { record: ChordRecord; done: number }>()

  constructor(runLocal: RunLocal) {
    this.#runLocal = runLocal
  }

  // Neither method awaits what follows a task: a suspended frame would keep its plan, and with
  // it the rest of its chain, alive until the whole canvas is done (quadratic memory).
  send(plan: SendPlan): Promise<void> {
    for (const record of plan.chords) this.#chords.set(record.id, { record, done: 0 })
    return Promise.all(plan.sends.map((send) => this.#run(send))).then(() => undefined)
  }

  async #run(send: PlannedSend): Promise<void> {
    const headers = headersOf(send)
    let outcome: Outcome
    try {
      outcome = { ok: true, value: await this.#runLocal(send.task, send.args, send.options.kwargs) }
    } catch (error) {
      outcome = { ok: false, error }
    }
    this.#outcomes.set(headers.id, outcome)
    if (!outcome.ok) return afterReady(this, headers, TaskState.FAILURE, outcome.error)
    // As a worker: on success the next step carries the chain on; a last step completes its chord member.
    return nextStep(this, headers, outcome.value)?.sent ?? afterReady(this, headers, TaskState.SUCCESS, undefined)
  }

  async joinPart(ref: ChordRef): Promise<ChordRecord | undefined> {
    const chord = this.#chords.get(ref.id)!
    chord.done += 1
    return chord.done === ref.size ? chord.record : undefined
  }

  async outcomes(ids: readonly string[]): Promise<MemberOutcome[]> {
    return ids.map((id): MemberOutcome => {
      const outcome = this.#outcomes.get(id)!
      if (outcome.ok) return outcome
      // Worded as the worker words a stored failure.
      const wire = toWireError(outcome.error)
      return { ok: false, cause: `${wire.type}: ${wire.message}` }
    })
  }

  async end(ids: readonly string[], _state: StateName, error: unknown): Promise<void> {
    for (const id of ids) this.#outcomes.set(id, { ok: false, error })
  }

  failure(error: Error): unknown {
    return error
  }

  /** Nothing here is passing: a part that cannot be run now never can. */
  lasting(): boolean {
    return true
  }

  errbacks(): void {}

  /** The value of a result handle of this shape, or the error its `get()` raises. */
  valueOf(shape: ResultShape): unknown {
    if (shape.type === 'group') return shape.members.map((member) => this.valueOf(member))
    const outcome = this.#outcomes.get(shape.id)
    if (!outcome) throw new Error(`celeriac: task ${shape.id} of a called canvas never ran (a bug in the canvas plan)`)
    if (!outcome.ok) throw outcome.error
    return outcome.value
  }
}

/** The workflow headers a planned task would carry in its message. */
function headersOf(send: PlannedSend): TaskHeaders {
  const id = send.options.taskId as string
  const headers = { id, task: send.task, retries: 0, rootId: send.options.rootId ?? id } as TaskHeaders
  if (send.options.parentId !== undefined) headers.parentId = send.options.parentId
  if (send.flow.chain) headers.chain = send.flow.chain
  if (send.flow.chord) headers.chord = send.flow.chord
  return headers
}
