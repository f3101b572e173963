import { Signature } from '../canvas/signature.js'
import { currentContext, type Task } from '../task/task.js'
import { newTaskId } from '../util/ids.js'
import { Retry, type RetryOptions } from '../errors.js'
import type { AsyncResult } from '../result/async-result.js'
import type { ResolvedTaskOptions, TaskDefinition } from '../task/definition.js'
import type { TaskContext, TaskRequest } from '../task/context.js'
import type { CallOptions } from './call-options.js'

/** Every prefix of an argument list: what a partial signature may hold. */
export type Prefix<A extends unknown[]> = A extends [...infer Head, unknown] ? Prefix<Head> | A : A

/** What a task handle needs from its app. */
export interface TaskHandleHost {
  send<R>(name: string, args: readonly unknown[], options: CallOptions, definition: TaskDefinition): Promise<AsyncResult<R>>
  resolved(definition: TaskDefinition): ResolvedTaskOptions
}

/**
 * A registered task, as `app.task()` returns it: call it through the broker (`delay`,
 * `applyAsync`), here (`call`), or turn it into a signature (`s`, `si`, `signature`).
 */
export class TaskHandle<A extends unknown[] = unknown[], R = unknown> {
  readonly #host: TaskHandleHost
  readonly #definition: TaskDefinition
  #instance?: Task

  constructor(host: TaskHandleHost, definition: TaskDefinition) {
    this.#host = host
    this.#definition = definition
  }

  get name(): string {
    return this.#definition.name
  }

  /** Sends the task with these arguments; resolves once the message is published. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.#host.send<R>(this.#definition.name, args, {}, this.#definition)
  }

  /** Sends the task with arguments and calling options. */
  applyAsync(args?: A, options: CallOptions = {}): Promise<AsyncResult<R>> {
    return this.#host.send<R>(this.#definition.name, args ?? [], options, this.#definition)
  }

  /** Runs the task in this process, now, without a message (Celery's `add(2, 2)`). */
  async call(...args: A): Promise<R> {
    const id = newTaskId()
    const request: TaskRequest = {
      id, task: this.name, args, kwargs: {}, retries: 0, hostname: '', rootId: id, headers: {}, isEager: true,
      deliveryInfo: { exchange: '', routingKey: '', queue: '', priority: 0, redelivered: false },
    }
    const ctx: TaskContext = {
      name: this.name,
      request,
      signal: new AbortController().signal,
      retry: (options?: RetryOptions) => {
        throw new Retry(options)
      },
      updateState: () => {},
    }
    const { fn, cls } = this.#definition
    if (cls) {
      const instance = (this.#instance ??= new cls())
      return (await currentContext.run(ctx, () => instance.run(...args))) as R
    }
    const bound = this.#host.resolved(this.#definition).bind
    return (await currentContext.run(ctx, () => (bound ? fn!(ctx, ...args) : fn!(...args)))) as R
  }

  /** A signature; partial arguments are completed by the parent's result when used as a callback. */
  s(...args: Prefix<A>): Signature<R> {
    return new Signature<R>(this.name, args)
  }

  /** An immutable signature: the parent's result is not prepended. */
  si(...args: A): Signature<R> {
    return new Signature<R>(this.name, args, {}, {}, true)
  }

  signature(args: Prefix<A> | [] = [], kwargs: Record<string, unknown> = {}, options: CallOptions = {}): Signature<R> {
    return new Signature<R>(this.name, args, kwargs, options)
  }
}
