/**
 * The canvas interpreter: signature data in, a plan out. Planning freezes the canvas (gives
 * every task its id up front, so the caller's result handles are known at once), and lists
 * what sending it means: the chord records to store, then the task messages to publish, each
 * with the workflow headers that carry what follows it (a chain's remaining steps, a chord
 * member's place). Nothing here does I/O: `applyAsync` publishes a plan (apply.ts), `call()`
 * runs it here (call-local.ts), and the worker plans what follows a finished task from the
 * headers it carried (continuation.ts).
 * @module
 */
import { InvalidArgumentError } from '../errors.js'
import { newTaskId } from '../util/ids.js'
import { IDENTITY_TASK } from './builtins.js'
import { optionsData } from './options-data.js'
import { readSignature, type ChordData, type ChordRecord, type ChordRef, type GroupData, type SignatureData, type TaskSignatureData } from './data.js'
import type { CallOptions } from './call-options.js'
import type { Flow } from './host.js'

/** Makes a task or group id (a UUID unless a test gives its own). */
export type NewId = () => string

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

/** One task message to publish: its id is `options.taskId`. */
export interface PlannedSend {
  task: string
  args: unknown[]
  options: CallOptions & Record<string, unknown>
  flow: Flow
}

/** What sending a frozen part means: chord records to store first, then task messages. */
export interface SendPlan {
  chords: ChordRecord[]
  sends: PlannedSend[]
}

/** The shape of a canvas's result handle: one task's result, or a group's, each with its parent. */
export type ResultShape =
  | { type: 'task'; id: string; parent?: ResultShape }
  | { type: 'group'; id: string; members: ResultShape[]; parent?: ResultShape }

/** A whole canvas, planned from its caller. */
export interface Plan extends SendPlan {
  /** The canvas with every id chosen and its options pushed down to its tasks. */
  frozen: SignatureData
  /** What the caller waits on. */
  result: ResultShape
}

// Options that time the start of a canvas: a chain gives them to its first step only.
const START_OPTIONS = ['countdown', 'eta'] as const
// Options that name one task or are handled by the canvas itself: never inherited.
const OWN_OPTIONS = ['taskId', 'link', 'linkError', 'groupId', 'parentId', 'rootId'] as const

/**
 * Plans a canvas sent by its caller: `args` are prepended to its first tasks' arguments
 * (partial application), `options` apply to every task unless it sets its own.
 * @throws InvalidArgumentError for data that is not a canvas, or one that cannot be sent
 */
export function planCanvas(data: SignatureData, args: readonly unknown[], options: CallOptions, newId: NewId = newTaskId): Plan {
  const frozen = freeze(readSignature(data), optionsData(options), false, newId)
  const context: SendContext = { prepend: args, chain: [], rootId: options.rootId ?? entryIds(frozen)[0] }
  if (options.parentId !== undefined) context.parentId = options.parentId
  return { frozen, ...planSends(frozen, context), result: shapeOf(frozen) }
}

/** Plans a callback (a link or errback, as data) sent from `context`; returns its entry ids and all its ids too. */
export function planCallback(data: SignatureData, context: SendContext, newId: NewId = newTaskId): SendPlan & { entryIds: string[]; taskIds: string[] } {
  const frozen = freeze(readSignature(data), {}, false, newId)
  return { ...planSends(frozen, context), entryIds: entryIds(frozen), taskIds: taskIds(frozen) }
}

/**
 * A copy of `data` with every id chosen and the canvas's options pushed down to its tasks
 * (a task's own options win). A chain is flattened. With `single`, the part must end in one
 * task (it is a chord member, or leads to one): a group there becomes a chord whose body is
 * the identity task, whose id stands for the group.
 */
export function freeze(data: SignatureData, inherited: Record<string, unknown> = {}, single = false, newId: NewId = newTaskId): SignatureData {
  switch (data.subtaskType) {
    case 'chain': {
      const options = { ...inherited, ...data.options }
      const steps = flatten(data.tasks)
      if (steps.length === 0) throw new InvalidArgumentError('a chain needs at least one step')
      const last = steps.length - 1
      // linkError covers every step; link follows the chain's result, its last step.
      const tasks = steps.map((step, i) => freeze(step, { ...inheritable(options, i === 0), ...links(options, i === last, true) }, single && i === last, newId))
      return { subtaskType: 'chain', tasks, options: {} }
    }
    case 'group': {
      const options = { ...inherited, ...data.options }
      const groupId = (data.options.groupId as string | undefined) ?? newId()
      const tasks = data.tasks.map((task) => freeze(task, { ...inheritable(options, true), ...links(options, true, true), groupId }, false, newId))
      const group: GroupData = { subtaskType: 'group', tasks, options: { groupId } }
      if (!single) return group
      const identity: TaskSignatureData = { task: IDENTITY_TASK, args: [], kwargs: {}, options: { ...inheritable(options, false), taskId: newId() }, immutable: false }
      return { subtaskType: 'chord', header: tasks.map((t) => freeze(t, {}, true, newId)), body: identity, options: { groupId } }
    }
    case 'chord': {
      const options = { ...inherited, ...data.options }
      const groupId = (data.options.groupId as string | undefined) ?? newId()
      const header = data.header.map((task) => freeze(task, { ...inheritable(options, true), groupId }, true, newId))
      const body = freeze(data.body, { ...inheritable(options, false), ...links(options, true, true) }, single, newId)
      return { subtaskType: 'chord', header, body, options: { groupId } }
    }
    default: {
      const options = { ...inherited, ...data.options }
      if (options.taskId === undefined) options.taskId = newId()
      return { task: data.task, args: [...data.args], kwargs: { ...data.kwargs }, options, immutable: data.immutable }
    }
  }
}

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

function flatten(steps: readonly SignatureData[]): SignatureData[] {
  return steps.flatMap((step) => (step.subtaskType === 'chain' && Object.keys(step.options).length === 0 ? flatten(step.tasks) : [step]))
}

/**
 * What sending a frozen part from `context` means. A group followed by a step is a chord with
 * that step as body (Celery's upgrade); a chord's members carry their place in it.
 * @throws InvalidArgumentError for a chord member that does not end in one task
 */
export function planSends(data: SignatureData, context: SendContext): SendPlan {
  const plan: SendPlan = { chords: [], sends: [] }
  walk(data, context, plan)
  return plan
}

function walk(data: SignatureData, context: SendContext, plan: SendPlan): void {
  switch (data.subtaskType) {
    case 'chain':
      return walk(data.tasks[0], { ...context, chain: [...data.tasks.slice(1), ...context.chain] }, plan)
    case 'group': {
      if (context.chain.length > 0) {
        const [body, ...rest] = context.chain
        return walkChord({ subtaskType: 'chord', header: data.tasks, body, options: data.options }, { ...context, chain: rest }, plan)
      }
      if (context.chord) throw new InvalidArgumentError('a chord member must end in one task: freeze the canvas with single')
      for (const task of data.tasks) walk(task, { ...context, chain: [] }, plan)
      return
    }
    case 'chord':
      return walkChord(data, context, plan)
    default:
      plan.sends.push(taskSend(data, context))
  }
}

function walkChord(data: ChordData, context: SendContext, plan: SendPlan): void {
  const id = data.options.groupId as string
  const size = data.header.length
  // An empty header still calls the body, with an empty list (as Celery does).
  if (size === 0) return walk(data.body, { ...context, prepend: [[]] }, plan)
  const record: ChordRecord = { id, size, body: data.body, results: data.header.map(resultIdOf), rootId: context.rootId ?? id }
  if (context.chain.length > 0) record.chain = context.chain
  if (context.chord) record.chord = context.chord
  plan.chords.push(record)
  data.header.forEach((member, index) => walk(member, { ...context, chain: [], chord: { id, index, size } }, plan))
}

function taskSend(data: TaskSignatureData, context: SendContext): PlannedSend {
  const args = data.immutable ? [...data.args] : [...context.prepend, ...data.args]
  const options = { ...data.options } as CallOptions & Record<string, unknown>
  // Kwargs given when the canvas is sent add to the signature's own, and win where both name
  // one (Celery's `dict(self.kwargs, **kwargs)`).
  const kwargs = { ...data.kwargs, ...(options.kwargs as Record<string, unknown> | undefined) }
  if (Object.keys(kwargs).length > 0) options.kwargs = kwargs
  else delete options.kwargs
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
  return { task: data.task, args, options, flow }
}

/** The shape of a frozen part's result handle; `parent` is the result of what came before it. */
export function shapeOf(data: SignatureData, parent?: ResultShape): ResultShape {
  switch (data.subtaskType) {
    case 'chain':
      return data.tasks.reduce<ResultShape | undefined>((previous, step) => shapeOf(step, previous), parent)!
    case 'group':
      return withParent({ type: 'group', id: data.options.groupId as string, members: data.tasks.map((t) => shapeOf(t)) }, parent)
    case 'chord':
      // A chord's result has its header as parent, whatever came before the chord.
      return shapeOf(data.body, { type: 'group', id: data.options.groupId as string, members: data.header.map((t) => shapeOf(t)) })
    default:
      return withParent({ type: 'task', id: data.options.taskId as string }, parent)
  }
}

function withParent(shape: ResultShape, parent: ResultShape | undefined): ResultShape {
  if (parent) shape.parent = parent
  return shape
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
