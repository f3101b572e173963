/**
 * Sending a canvas: freeze it (give every task its id up front, so the caller's result
 * handles are known at once), then send its first tasks. What comes later travels with them:
 * a chain's remaining steps in the `chain` header, a chord member's place in the `chord`
 * header; the worker that finishes a task sends what follows (see flow.ts).
 * @module
 */
import { InvalidArgumentError } from '../errors.js'
import { GroupResult } from '../result/group-result.js'
import { newTaskId } from '../util/ids.js'
import type { AsyncResult } from '../result/async-result.js'
import { requireCapability, type ResultBackend } from '../result/backend.js'
import type { CallOptions } from '../app/call-options.js'
import type { ChordData, ChordRef, ChordRecord, GroupData, SignatureData, TaskSignatureData } from './data.js'

/** Name of the built-in task that returns its argument: the completion of a group that must end in one task. */
export const IDENTITY_TASK = 'celeriac.identity'

/** Workflow headers of one task message. */
export interface Flow {
  /** Steps to run after this task succeeds, next first. */
  chain?: SignatureData[]
  /** The chord this task completes a member of. */
  chord?: ChordRef
  /**
   * Where the workflow's sender listens for states: every step keeps the first's. `null`: none
   * (a workflow a worker continues for a sender that did not listen); absent: this process's.
   */
  replyTo?: string | null
}

/** What sending a canvas needs from the app. */
export interface FlowHost {
  /** Publishes one task whose id is already chosen (`options.taskId`). */
  sendTask(name: string, args: readonly unknown[], options: CallOptions, flow: Flow): Promise<unknown>
  backend(): Promise<ResultBackend>
  asyncResult(id: string): AsyncResult
}

/** Where a part of a canvas is sent from: what its first tasks receive and what follows it. */
export interface SendContext {
  /** The parent's result (or the caller's partial arguments), prepended unless immutable. */
  prepend: readonly unknown[]
  parentId?: string
  rootId?: string
  /** Steps after this part, next first. */
  chain: SignatureData[]
  chord?: ChordRef
  replyTo?: string | null
}

// Options that time the start of a canvas: a chain gives them to its first step only.
const START_OPTIONS = ['countdown', 'eta'] as const
// Options that name one task or are handled by the canvas itself: never inherited.
const OWN_OPTIONS = ['taskId', 'link', 'linkError', 'groupId', 'parentId', 'rootId'] as const

function inheritable(options: Record<string, unknown>, start: boolean): Record<string, unknown> {
  const inherited = { ...options }
  for (const key of OWN_OPTIONS) delete inherited[key]
  if (!start) for (const key of START_OPTIONS) delete inherited[key]
  return inherited
}

function links(options: Record<string, unknown>, link: boolean, linkError: boolean): Record<string, unknown> {
  const chosen: Record<string, unknown> = {}
  if (link && options.link !== undefined) chosen.link = options.link
  if (linkError && options.linkError !== undefined) chosen.linkError = options.linkError
  return chosen
}

/**
 * A copy of `data` with every id chosen and the canvas's options pushed down to its tasks
 * (a task's own options win). A chain is flattened. With `single`, the part must end in one
 * task (it is a chord member, or leads to one): a group there becomes a chord whose body is
 * the identity task, whose id stands for the group.
 */
export function freeze(data: SignatureData, inherited: Record<string, unknown> = {}, single = false): SignatureData {
  switch (data.subtaskType) {
    case 'chain': {
      const options = { ...inherited, ...data.options }
      const steps = flatten(data.tasks)
      if (steps.length === 0) throw new InvalidArgumentError('a chain needs at least one step')
      const last = steps.length - 1
      // linkError covers every step; link follows the chain's result, its last step.
      const tasks = steps.map((step, i) => freeze(step, { ...inheritable(options, i === 0), ...links(options, i === last, true) }, single && i === last))
      return { subtaskType: 'chain', tasks, options: {} }
    }
    case 'group': {
      const options = { ...inherited, ...data.options }
      const groupId = (data.options.groupId as string | undefined) ?? newTaskId()
      const tasks = data.tasks.map((task) => freeze(task, { ...inheritable(options, true), ...links(options, true, true), groupId }))
      const group: GroupData = { subtaskType: 'group', tasks, options: { groupId } }
      if (!single) return group
      const identity: TaskSignatureData = { task: IDENTITY_TASK, args: [], kwargs: {}, options: { ...inheritable(options, false), taskId: newTaskId() }, immutable: false }
      return { subtaskType: 'chord', header: tasks.map((t) => freeze(t, {}, true)), body: identity, options: { groupId } }
    }
    case 'chord': {
      const options = { ...inherited, ...data.options }
      const groupId = (data.options.groupId as string | undefined) ?? newTaskId()
      const header = data.header.map((task) => freeze(task, { ...inheritable(options, true), groupId }, true))
      const body = freeze(data.body, { ...inheritable(options, false), ...links(options, true, true) }, single)
      return { subtaskType: 'chord', header, body, options: { groupId } }
    }
    default: {
      const options = { ...inherited, ...data.options }
      if (options.taskId === undefined) options.taskId = newTaskId()
      return { task: data.task, args: [...data.args], kwargs: { ...data.kwargs }, options, immutable: data.immutable }
    }
  }
}

function flatten(steps: readonly SignatureData[]): SignatureData[] {
  return steps.flatMap((step) => (step.subtaskType === 'chain' && Object.keys(step.options).length === 0 ? flatten(step.tasks) : [step]))
}

/** The id of the one task whose result is the part's result (see `freeze`'s `single`). */
export function resultIdOf(data: SignatureData): string {
  switch (data.subtaskType) {
    case 'chain':
      return resultIdOf(data.tasks[data.tasks.length - 1])
    case 'chord':
      return resultIdOf(data.body)
    case 'group':
      throw new InvalidArgumentError('a group has no single result id (freeze it with single)')
    default:
      return data.options.taskId as string
  }
}

/** Ids of the tasks sent first when the part is sent: its entry points. */
export function entryIds(data: SignatureData): string[] {
  switch (data.subtaskType) {
    case 'chain':
      return entryIds(data.tasks[0])
    case 'group':
      return data.tasks.flatMap(entryIds)
    case 'chord':
      return data.header.length === 0 ? entryIds(data.body) : data.header.flatMap(entryIds)
    default:
      return [data.options.taskId as string]
  }
}

/** Ids of every task in the part. */
export function taskIds(data: SignatureData): string[] {
  switch (data.subtaskType) {
    case 'chain':
    case 'group':
      return data.tasks.flatMap(taskIds)
    case 'chord':
      return [...data.header.flatMap(taskIds), ...taskIds(data.body)]
    default:
      return [data.options.taskId as string]
  }
}

/** The result handle of a frozen part: what the caller waits on. */
export function resultOf(host: FlowHost, data: SignatureData): AsyncResult | GroupResult {
  switch (data.subtaskType) {
    case 'chain': {
      let previous: AsyncResult | GroupResult | undefined
      for (const step of data.tasks) {
        const result = resultOf(host, step)
        // A chord's result already has its header as parent.
        if (previous && step.subtaskType !== 'chord') result.parent = previous
        previous = result
      }
      return previous!
    }
    case 'group':
      return new GroupResult(data.options.groupId as string, data.tasks.map((t) => resultOf(host, t)))
    case 'chord': {
      const result = resultOf(host, data.body)
      result.parent = new GroupResult(data.options.groupId as string, data.header.map((t) => resultOf(host, t)))
      return result
    }
    default:
      return host.asyncResult(data.options.taskId as string)
  }
}

/** Sends a frozen part of a canvas from `context`. */
export async function send(host: FlowHost, data: SignatureData, context: SendContext): Promise<void> {
  switch (data.subtaskType) {
    case 'chain':
      return send(host, data.tasks[0], { ...context, chain: [...data.tasks.slice(1), ...context.chain] })
    case 'group':
      // A group followed by a step is a chord with that step as body (Celery's upgrade).
      if (context.chain.length > 0) {
        const [body, ...rest] = context.chain
        return sendChord(host, { subtaskType: 'chord', header: data.tasks, body, options: data.options }, { ...context, chain: rest })
      }
      if (context.chord) throw new InvalidArgumentError('a chord member must end in one task: freeze the canvas with single')
      await Promise.all(data.tasks.map((task) => send(host, task, { ...context, chain: [] })))
      return
    case 'chord':
      return sendChord(host, data, context)
    default:
      return sendTask(host, data, context)
  }
}

function sendTask(host: FlowHost, data: TaskSignatureData, context: SendContext): Promise<void> {
  const args = data.immutable ? data.args : [...context.prepend, ...data.args]
  const options = { ...data.options } as CallOptions & Record<string, unknown>
  if (Object.keys(data.kwargs).length > 0) options.kwargs = data.kwargs
  if (context.parentId !== undefined) options.parentId = context.parentId
  if (context.rootId !== undefined) options.rootId = context.rootId
  const flow: Flow = {}
  if (context.replyTo !== undefined) flow.replyTo = context.replyTo
  if (context.chain.length > 0) flow.chain = context.chain
  if (context.chord) {
    flow.chord = context.chord
    // The chord's join reads every member's stored result.
    if (context.chain.length === 0) options.ignoreResult = false
  }
  return host.sendTask(data.task, args, options, flow).then(() => undefined)
}

async function sendChord(host: FlowHost, data: ChordData, context: SendContext): Promise<void> {
  const id = data.options.groupId as string
  const size = data.header.length
  if (size === 0) {
    // An empty header still calls the body, with an empty list (as Celery does).
    return send(host, data.body, { ...context, prepend: [[]] })
  }
  const backend = await host.backend()
  const chords = requireCapability(backend, 'chords', 'chords')
  const record: ChordRecord = { id, size, body: data.body, results: data.header.map(resultIdOf), rootId: context.rootId ?? id }
  if (context.chain.length > 0) record.chain = context.chain
  if (context.chord) record.chord = context.chord
  await chords.start(record)
  await Promise.all(data.header.map((member, index) => send(host, member, { ...context, chain: [], chord: { id, index, size } })))
}

/**
 * Sends a canvas from the caller: freezes it, sends it, and returns its result handle.
 * `args` are the caller's partial arguments, prepended to the first tasks' own.
 */
export async function applyCanvas(host: FlowHost, data: SignatureData, args: readonly unknown[], options: CallOptions): Promise<AsyncResult | GroupResult> {
  const frozen = freeze(data, optionsData(options))
  const context: SendContext = { prepend: args, chain: [], rootId: options.rootId ?? entryIds(frozen)[0] }
  if (options.parentId !== undefined) context.parentId = options.parentId
  const result = resultOf(host, frozen)
  await send(host, frozen, context)
  return result
}

function optionsData(options: CallOptions): Record<string, unknown> {
  const data: Record<string, unknown> = { ...options }
  for (const key of ['link', 'linkError'] as const) {
    const value = options[key]
    if (value !== undefined) data[key] = (Array.isArray(value) ? value : [value]).map((s: { toJSON?(): unknown }) => (typeof s.toJSON === 'function' ? s.toJSON() : s))
  }
  return data
}
