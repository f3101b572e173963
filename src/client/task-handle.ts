import { Signature, type Prefix } from '../canvas/signature.js'
import type { CanvasHost } from '../canvas/host.js'
import { Group } from '../canvas/signature.js'
import { InvalidArgumentError } from '../errors.js'
import type { AsyncResult } from '../result/async-result.js'
import type { TaskDefinition } from '../task/definition.js'
import { checkCallOptions, type CallOptions } from '../canvas/call-options.js'

export type { Prefix } from '../canvas/signature.js'
/**
 * Every suffix of an argument list: what a partial signature may hold, since the arguments
 * given later (or the parent's result) are prepended to it (Celery's rule).
 */
export type Suffix<A extends unknown[]> = A | (A extends [unknown, ...infer Rest] ? Suffix<Rest> : [])
/** The parameters in front of suffix `S` of `A`: what a partial signature still needs. */
export type Missing<A extends unknown[], S extends unknown[]> = number extends A['length']
  ? A
  : A['length'] extends S['length']
    ? []
    : A extends [infer First, ...infer Rest]
      ? [First, ...Missing<Rest, S>]
      : []

/**
 * Whether a task is one of celeriac's built-ins (`celeriac.map`, ...), which banners and
 * `inspect registered` leave out, as Celery's leave out `celery.*`.
 */
export function isBuiltinTask(name: string): boolean {
  return name.startsWith('celeriac.')
}

/** The options of a call that gives none: shared, as a delay() on the hot path allocates nothing for them. */
const NO_OPTIONS: CallOptions = Object.freeze({})

/** Built-in tasks that apply a task to each item of a list (Celery's `xmap`, `xstarmap`). */
export const MAP_TASK = 'celeriac.map'
export const STARMAP_TASK = 'celeriac.starmap'

/** What a task handle needs from its app. */
export interface TaskHandleHost {
  /** Sends the task by name (the app's one send path). */
  send<R>(name: string, args: readonly unknown[], options: CallOptions): Promise<AsyncResult<R>>
  /** Sends and calls canvases; its `runLocal` runs the task here for `call()`. */
  canvas: CanvasHost
}

/**
 * A registered task, as `app.task()` returns it: call it through the broker (`delay`,
 * `applyAsync`), here (`call`), or turn it into a signature (`s`, `si`, `signature`, `map`,
 * `starmap`, `chunks`).
 */
export class TaskHandle<A extends unknown[] = unknown[], R = unknown> {
  readonly #host: TaskHandleHost
  readonly #definition: TaskDefinition

  constructor(host: TaskHandleHost, definition: TaskDefinition) {
    this.#host = host
    this.#definition = definition
  }

  get name(): string {
    return this.#definition.name
  }

  /** Sends the task with these arguments; resolves once the message is published. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.#host.send<R>(this.#definition.name, args, NO_OPTIONS)
  }

  /** Sends the task with arguments and calling options. */
  applyAsync(args?: A, options?: CallOptions): Promise<AsyncResult<R>>
  /**
   * With `kwargs`, the leading arguments only (or none): the rest bind by parameter name, as
   * Celery's `add.apply_async((1,), {'y': 2})`.
   */
  applyAsync(args: Prefix<A>, options: CallOptions & { kwargs: Record<string, unknown> }): Promise<AsyncResult<R>>
  applyAsync(args?: A | Prefix<A>, options: CallOptions = {}): Promise<AsyncResult<R>> {
    try {
      checkCallOptions(options, this.#definition.name)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#host.send<R>(this.#definition.name, args ?? [], options)
  }

  /** Runs the task in this process, now, without a message (Celery's `add(2, 2)`). */
  async call(...args: A): Promise<R> {
    return (await this.#host.canvas.runLocal(this.#definition.name, args)) as R
  }

  /**
   * A signature. Partial: the arguments given later, or the parent's result in a chain, come
   * first, these after them: `add.s(2).delay(4)` runs `add(4, 2)`.
   */
  s<S extends Suffix<A>>(...args: S): Signature<R, Missing<A, S>> {
    return new Signature(this.name, args, {}, {}, false, this.#host.canvas)
  }

  /** An immutable signature: complete, and the parent's result is not prepended. */
  si(...args: A): Signature<R, [], unknown> {
    return new Signature(this.name, args, {}, {}, true, this.#host.canvas)
  }

  /** A signature with kwargs and call options (Celery's `task.signature(args, kwargs, **options)`). */
  signature<S extends Suffix<A>>(args: S, kwargs: Record<string, unknown> = {}, options: CallOptions = {}): Signature<R, Missing<A, S>> {
    return new Signature(this.name, args, kwargs, options, false, this.#host.canvas)
  }

  /** One task that calls this one on each item, in the worker: yields the list of results. */
  map(items: readonly A[0][]): Signature<R[], [], never> {
    return new Signature(MAP_TASK, [this.name, items], {}, {}, true, this.#host.canvas)
  }

  /** One task that calls this one with each argument list, in the worker: yields the list of results. */
  starmap(argLists: readonly A[]): Signature<R[], [], never> {
    return new Signature(STARMAP_TASK, [this.name, argLists], {}, {}, true, this.#host.canvas)
  }

  /** The argument lists split into chunks of `size`, each a starmap task: a group yielding one list per chunk. */
  chunks(argLists: readonly A[], size: number): Group<R[][], never> {
    if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`${this.name}.chunks: size must be a positive integer, got ${size}`)
    const parts: Signature<R[], [], never>[] = []
    for (let i = 0; i < argLists.length; i += size) parts.push(this.starmap(argLists.slice(i, i + size)))
    return new Group(parts, {}, this.#host.canvas)
  }
}
