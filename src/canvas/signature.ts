/**
 * Signatures and the canvas primitives built from them: chain, group, chord. All are plain
 * data with call methods; `toJSON()` gives the form that travels in messages.
 *
 * @remarks
 * Types flow through a canvas: `Canvas<R, In>` yields `R` and accepts `In` as its parent's
 * result (the first missing argument of a partial signature; `unknown` for an immutable one;
 * `never` when it takes no more arguments). `chain` checks at compile time that each step
 * accepts the result of the step before it, and `chord` that its body accepts the list of its
 * header's results. Partial arguments follow Celery's rule: the arguments given at call time
 * (or the parent's result) come first, the signature's own after them.
 * @module
 */
import { InvalidArgumentError } from '../errors.js'
import { applyCanvas } from './apply.js'
import { callCanvas } from './call-local.js'
import { currentCanvasHost } from './current-host.js'
import { optionsData } from './options-data.js'
import { describe, isSignatureData, readSignature, type ChainData, type ChordData, type GroupData, type SignatureData, type TaskSignatureData } from './data.js'
import { checkCallOptions, type CallOptions } from './call-options.js'
import type { Serializable } from '../serialization/serializable.js'
import type { CanvasHost } from './host.js'
import type { AsyncResult } from '../result/async-result.js'
import type { GroupResult } from '../result/group-result.js'

export type { CanvasHost } from './host.js'

/** A handle on any canvas's result: a task's ({@link AsyncResult}) or a group's ({@link GroupResult}). */
export type ResultHandle<R> = AsyncResult<R> | GroupResult<R>

/** Any canvas, whatever it yields and takes. */
export type AnyCanvas = Canvas<any, any, any, any>
/** What a canvas yields. */
export type ResultOf<C> = C extends Canvas<infer R, any, any, any> ? R : never
/** What a canvas accepts from its parent. */
export type InputOf<C> = C extends Canvas<any, infer I, any, any> ? I : never
/** The arguments a canvas is sent or called with (its `delay`'s). */
export type CallArgsOf<C> = C extends { delay(...args: infer A): unknown } ? A : unknown[]
/**
 * The handle sending a canvas gives: a task's or a chord's {@link AsyncResult}, a group's
 * {@link GroupResult}, a chain's its last step's.
 */
export type HandleOf<C> = C extends Canvas<any, any, any, infer H> ? H : never

/** Marks the step of a chain (or the body of a chord) that cannot take its parent's result. */
export interface CannotAccept<Given, Wanted> {
  readonly 'this step does not accept the previous result': { given: Given; wanted: Wanted }
}

type Accepting<C, Given> = [Given] extends [InputOf<C>] ? C : C & CannotAccept<Given, InputOf<C>>
// A tuple is checked step by step; a spread array of steps (chain(first, ...steps)) is left as is.
type CheckSteps<S extends readonly unknown[], Prev> = S extends readonly [infer H, ...infer T]
  ? [Accepting<H, Prev>, ...CheckSteps<T, ResultOf<H>>]
  : S
/** The steps of a chain, each checked against the result of the one before. */
export type ChainSteps<S extends readonly unknown[]> = S extends readonly [infer H, ...infer T] ? [H, ...CheckSteps<T, ResultOf<H>>] : S
type LastOf<S extends readonly unknown[]> = S extends readonly [...unknown[], infer L] ? L : S[number]
/** The results of a list of canvases, position by position. */
export type ResultsOf<S extends readonly unknown[]> = { -readonly [K in keyof S]: ResultOf<S[K]> }
/**
 * What every member of a group (or chord header) accepts, since each is given the same
 * arguments: their inputs intersected, member by member, so that one member that takes no more
 * arguments (`never`) makes the group take none, and a `number` and a `string` member take none.
 */
export type CommonInput<S extends readonly unknown[]> = number extends S['length']
  ? InputOf<S[number]>
  : S extends readonly [infer H, ...infer T] ? InputOf<H> & CommonInput<T> : unknown

/**
 * The arguments a canvas is sent or called with (prepended to those of its first tasks): none
 * when it takes no more, any when it takes anything (an immutable signature ignores them), else
 * its input first. The arguments after the first are left unchecked: a chain's first step may
 * miss more than one.
 */
export type ArgsOf<In> = [In] extends [never] ? [] : unknown extends In ? unknown[] : [In, ...unknown[]]

/** Every prefix of an argument list. */
export type Prefix<A extends unknown[]> = A extends [...infer Head, unknown] ? Prefix<Head> | A : A

/** The input a partial signature with missing leading parameters `P` accepts from its parent. */
export type FirstOf<P extends unknown[]> = P extends [infer F, ...unknown[]] ? F : P extends [] ? never : P[number]

const hosts = new WeakMap<object, CanvasHost>()

/** Options a canvas passes down to its tasks unless they set their own. */
function merged(options: Readonly<CallOptions>, more: CallOptions): CallOptions {
  checkCallOptions(more, 'set')
  return { ...options, ...more }
}

/**
 * What every canvas can do: be sent (`applyAsync`, `delay`), be called here (`call`), be
 * extended with options (`set`) or a next step (`pipe`), and become data (`toJSON`).
 */
export abstract class Canvas<R = unknown, In = unknown, A extends unknown[] = ArgsOf<In>, H = ResultHandle<R>> {
  declare readonly __result?: R
  declare readonly __input?: In
  declare readonly __args?: A
  declare readonly __handle?: H
  readonly options: Readonly<CallOptions>

  protected constructor(options: CallOptions, host?: CanvasHost) {
    this.options = options
    if (host) hosts.set(this, host)
  }

  /** The plain-data form carried in messages. */
  abstract toJSON(): SignatureData

  /** A copy with more call options (later ones win). */
  abstract set(options: CallOptions): this

  /** A deep copy. */
  clone(): this {
    return this.set({})
  }

  /**
   * Sends the canvas. `args` are prepended to the arguments of its first tasks (Celery's
   * partial application); `options` apply to every task it sends unless a task sets its own.
   */
  applyAsync(args: readonly unknown[] = [], options: CallOptions = {}): Promise<H> {
    try {
      // Celery's apply_async(args, kwargs, **options) ported with the options first.
      if (!Array.isArray(args)) throw new InvalidArgumentError(`applyAsync(args, options): args must be an array, got ${describe(args)}`)
      checkCallOptions(options, 'applyAsync')
    } catch (error) {
      return Promise.reject(error)
    }
    return applyCanvas(this.host(), this.toJSON(), args, options) as Promise<H>
  }

  /**
   * Runs the canvas in this process, now, without messages: the same plan as `applyAsync`,
   * each task run here. Resolves to what the result handle's `get()` would.
   */
  call(...args: unknown[]): Promise<R> {
    return callCanvas(this.host().runLocal, this.toJSON(), args) as Promise<R>
  }

  /** This canvas, then `next` with this one's result (Celery's `|`). A group piped into a task is a chord. */
  pipe<N extends AnyCanvas>(next: Accepting<N, R>): Chain<ResultOf<N>, In, A, HandleOf<N>> {
    return new Chain<ResultOf<N>, In, A, HandleOf<N>>([this, next as AnyCanvas], {}, this.host(false))
  }

  /** The app this canvas was made by, else the current one. */
  protected host(required?: true): CanvasHost
  protected host(required: false): CanvasHost | undefined
  protected host(required = true): CanvasHost | undefined {
    const host = hostOf(this) ?? currentCanvasHost()
    if (!host && required) throw new InvalidArgumentError('no app to send this signature with: create one with createApp() first, or use app.signature()')
    return host
  }

}

/**
 * One task call as data: the task's name, its arguments and call options. With `immutable`
 * the parent's result is not prepended to the arguments when it runs as a step or callback.
 * `P` is the parameters still missing in front (filled at call time or by the parent).
 */
export class Signature<R = unknown, P extends unknown[] = unknown[], In = FirstOf<P>> extends Canvas<R, In, P, AsyncResult<R>> {
  readonly task: string
  readonly args: readonly unknown[]
  readonly kwargs: Readonly<Record<string, unknown>>
  readonly immutable: boolean

  constructor(task: string, args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: CallOptions = {}, immutable = false, host?: CanvasHost) {
    if (typeof task !== 'string' || task === '') throw new InvalidArgumentError('a signature needs a task name (a non-empty string)')
    if (!Array.isArray(args)) throw new InvalidArgumentError(`signature ${task}: args must be an array`)
    if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) throw new InvalidArgumentError(`signature ${task}: kwargs must be an object`)
    super(options, host)
    this.task = task
    this.args = args
    this.kwargs = kwargs
    this.immutable = immutable
  }

  set(options: CallOptions): this {
    return new Signature(this.task, [...this.args], { ...this.kwargs }, merged(this.options, options), this.immutable, hostOf(this)) as this
  }

  /**
   * A copy, with more arguments, kwargs or options (Celery's `clone(args, kwargs, **options)`):
   * `args` are prepended to the signature's own (the partial rule), `kwargs` and `options` merge
   * over its own, the new values winning. An immutable signature keeps its args and kwargs and
   * takes only the options.
   * @example add.s(2).clone({ args: [4] }) // add(4, 2)
   */
  override clone(): this
  override clone(parts: { args?: readonly unknown[]; kwargs?: Record<string, unknown>; options?: CallOptions }): Signature<R, unknown[], In>
  override clone(parts: { args?: readonly unknown[]; kwargs?: Record<string, unknown>; options?: CallOptions } = {}): Signature<R, unknown[], In> {
    const { args = [], kwargs = {}, options = {} } = parts
    if (!Array.isArray(args)) throw new InvalidArgumentError(`signature ${this.task}: clone args must be an array`)
    const keep = this.immutable
    return new Signature<R, unknown[], In>(this.task, keep ? [...this.args] : [...args, ...this.args], keep ? { ...this.kwargs } : { ...this.kwargs, ...kwargs }, merged(this.options, options), this.immutable, hostOf(this))
  }

  /** Sends the task with the missing leading arguments. */
  delay(...args: P): Promise<AsyncResult<R>> {
    return this.applyAsync(args)
  }

  override applyAsync(args?: Readonly<P>, options?: CallOptions): Promise<AsyncResult<R>>
  /** With `kwargs`, the leading arguments only (or none): the rest bind by parameter name. */
  override applyAsync(args: Prefix<P>, options: CallOptions & { kwargs: Record<string, unknown> }): Promise<AsyncResult<R>>
  override applyAsync(args?: readonly unknown[], options?: CallOptions): Promise<AsyncResult<R>> {
    return super.applyAsync(args, options)
  }

  override call(...args: P): Promise<R> {
    return super.call(...args)
  }

  toJSON(): TaskSignatureData {
    return { task: this.task, args: [...this.args], kwargs: { ...this.kwargs }, options: optionsData(this.options), immutable: this.immutable }
  }

  /** A signature from its plain-data form. */
  static from(data: SignatureData): AnyCanvas {
    return fromData(data)
  }
}

/**
 * Steps run one after the other, each given the previous step's result. `A` is what it is sent
 * with (its first step's arguments), `H` the handle sending it gives (its last step's).
 */
export class Chain<R = unknown, In = unknown, A extends unknown[] = ArgsOf<In>, H = ResultHandle<R>> extends Canvas<R, In, A, H> {
  readonly tasks: readonly AnyCanvas[]

  constructor(tasks: readonly AnyCanvas[], options: CallOptions = {}, host?: CanvasHost) {
    if (tasks.length === 0) throw new InvalidArgumentError('a chain needs at least one step')
    super(options, host)
    this.tasks = tasks.map((task, i) => checkCanvas(task, `chain step ${i}`))
  }

  set(options: CallOptions): this {
    return new Chain(this.tasks.map((t) => t.clone()), merged(this.options, options), hostOf(this)) as this
  }

  delay(...args: A): Promise<H> {
    return this.applyAsync(args)
  }

  override applyAsync(args?: Readonly<A>, options?: CallOptions): Promise<H> {
    return super.applyAsync(args, options)
  }

  override call(...args: A): Promise<R> {
    return super.call(...args)
  }

  override pipe<N extends AnyCanvas>(next: Accepting<N, R>): Chain<ResultOf<N>, In, A, HandleOf<N>> {
    return new Chain<ResultOf<N>, In, A, HandleOf<N>>([...this.tasks, next as AnyCanvas], this.options, hostOf(this))
  }

  toJSON(): ChainData {
    return { subtaskType: 'chain', tasks: this.tasks.map((t) => t.toJSON()), options: optionsData(this.options) }
  }

}

/** Members run in parallel; the result is the list of their results, in order. */
export class Group<R extends unknown[] = unknown[], In = unknown> extends Canvas<R, In, ArgsOf<In>, GroupResult<R>> {
  readonly tasks: readonly AnyCanvas[]

  constructor(tasks: readonly AnyCanvas[], options: CallOptions = {}, host?: CanvasHost) {
    super(options, host)
    this.tasks = tasks.map((task, i) => checkCanvas(task, `group member ${i}`))
  }

  set(options: CallOptions): this {
    return new Group(this.tasks.map((t) => t.clone()), merged(this.options, options), hostOf(this)) as this
  }

  delay(...args: ArgsOf<In>): Promise<GroupResult<R>> {
    return this.applyAsync(args)
  }

  override applyAsync(args?: Readonly<ArgsOf<In>>, options?: CallOptions): Promise<GroupResult<R>> {
    return super.applyAsync(args, options)
  }

  override call(...args: ArgsOf<In>): Promise<R> {
    return super.call(...args)
  }

  toJSON(): GroupData {
    return { subtaskType: 'group', tasks: this.tasks.map((t) => t.toJSON()), options: optionsData(this.options) }
  }

}

/** A group (the header) whose list of results is passed to `body` once every member is done. */
export class Chord<R = unknown, In = unknown> extends Canvas<R, In, ArgsOf<In>, AsyncResult<R>> {
  readonly header: readonly AnyCanvas[]
  readonly body: AnyCanvas

  constructor(header: readonly AnyCanvas[], body: AnyCanvas, options: CallOptions = {}, host?: CanvasHost) {
    super(options, host)
    this.header = header.map((task, i) => checkCanvas(task, `chord header member ${i}`))
    this.body = checkCanvas(body, 'chord body')
  }

  set(options: CallOptions): this {
    return new Chord(this.header.map((t) => t.clone()), this.body.clone(), merged(this.options, options), hostOf(this)) as this
  }

  delay(...args: ArgsOf<In>): Promise<AsyncResult<R>> {
    return this.applyAsync(args)
  }

  override applyAsync(args?: Readonly<ArgsOf<In>>, options?: CallOptions): Promise<AsyncResult<R>> {
    return super.applyAsync(args, options)
  }

  override call(...args: ArgsOf<In>): Promise<R> {
    return super.call(...args)
  }

  toJSON(): ChordData {
    return { subtaskType: 'chord', header: this.header.map((t) => t.toJSON()), body: this.body.toJSON(), options: optionsData(this.options) }
  }

}

/** The app a canvas was made by: its own, else that of its first part that has one. */
function hostOf(canvas: AnyCanvas): CanvasHost | undefined {
  const own = hosts.get(canvas)
  if (own) return own
  const parts = canvas instanceof Chord ? [...canvas.header, canvas.body] : canvas instanceof Chain || canvas instanceof Group ? canvas.tasks : []
  for (const part of parts) {
    const host = hostOf(part)
    if (host) return host
  }
  return undefined
}

function checkCanvas(value: unknown, where: string): AnyCanvas {
  if (value instanceof Canvas) return value
  if (isSignatureData(value)) return fromData(value)
  throw new InvalidArgumentError(`${where} must be a signature (task.s(...), chain, group, chord), got ${describe(value)}`)
}

/** A canvas from its plain-data form (what a task receives when given a signature as argument). */
function fromData(data: unknown): AnyCanvas {
  return build(readSignature(data))
}

function build(data: SignatureData): AnyCanvas {
  const options = data.options as CallOptions
  switch (data.subtaskType) {
    case 'chain':
      return new Chain(data.tasks.map(build), options)
    case 'group':
      return new Group(data.tasks.map(build), options)
    case 'chord':
      return new Chord(data.header.map(build), build(data.body), options)
    default:
      return new Signature(data.task, data.args, data.kwargs, options, data.immutable)
  }
}

/**
 * The parts of a signature made by task name. `args` and `kwargs` must be {@link Serializable}:
 * a function or a class instance with methods among them is a compile error (when their types
 * are inferred, not given).
 */
export interface SignatureParts<A extends readonly unknown[] = unknown[], K extends Record<string, unknown> = Record<string, unknown>> {
  args?: A & Serializable<A> | undefined
  kwargs?: K & Serializable<K> | undefined
  options?: CallOptions | undefined
  immutable?: boolean | undefined
}

/**
 * A signature by task name, without importing the task; or a canvas rebuilt from its data.
 * @example signature('tasks.add', { args: [2, 2] })
 * @example signature(received) // a signature passed to a task as an argument
 */
export function signature<R = unknown, const A extends readonly unknown[] = unknown[], K extends Record<string, unknown> = Record<string, unknown>>(task: string, parts?: SignatureParts<A, K>): Signature<R>
export function signature(data: SignatureData): AnyCanvas
export function signature(task: string | SignatureData, parts: { args?: unknown[]; kwargs?: Record<string, unknown>; options?: CallOptions; immutable?: boolean } = {}): AnyCanvas {
  if (typeof task !== 'string') return fromData(task)
  return new Signature(task, parts.args ?? [], parts.kwargs ?? {}, parts.options ?? {}, parts.immutable ?? false)
}

/**
 * Steps run one after the other, each given the previous one's result; typed so that each
 * step must accept it. A group followed by a step becomes a chord.
 * @example chain(add.s(4, 4), mul.s(8)) // yields 64
 */
export function chain<S extends readonly [AnyCanvas, ...AnyCanvas[]]>(...steps: S & ChainSteps<S>): Chain<ResultOf<LastOf<S>>, InputOf<S[0]>, CallArgsOf<S[0]>, HandleOf<LastOf<S>>> {
  return new Chain(steps as readonly AnyCanvas[])
}

/**
 * Members run in parallel; the result is the list of their results in order.
 * @example group(range(10).map((i) => add.s(i, i)))
 */
export function group<const S extends readonly AnyCanvas[]>(tasks: S): Group<ResultsOf<S>, CommonInput<S>>
export function group<const S extends readonly AnyCanvas[]>(...tasks: S): Group<ResultsOf<S>, CommonInput<S>>
export function group(...tasks: unknown[]): Group {
  const list = tasks.length === 1 && Array.isArray(tasks[0]) ? tasks[0] : tasks
  return new Group(list as AnyCanvas[])
}

/**
 * A group whose results are passed, as one list, to `body` once all are done. The join is
 * event driven: each member counts itself done in the result backend.
 * @example chord(range(10).map((i) => add.s(i, i)), xsum.s())  // yields 90
 */
export function chord<const H extends readonly AnyCanvas[], B extends AnyCanvas>(header: H | Group<ResultsOf<H>>, body: Accepting<B, ResultsOf<H>>): Chord<ResultOf<B>, CommonInput<H>> {
  const members = header instanceof Group ? header.tasks : header
  if (!Array.isArray(members)) throw new InvalidArgumentError('a chord header must be a list of signatures or a group')
  return new Chord(members, body as AnyCanvas, header instanceof Group ? header.options : {})
}
