import type { SignatureData } from '../protocol/envelope.js'
import type { CallOptions } from '../app/call-options.js'

/**
 * A task call as plain data: the task's name, its arguments and call options. Serialisable,
 * so it can be sent as a message or passed as an argument. With `immutable` the parent's
 * result is not prepended to the arguments when it is called as a callback.
 */
export class Signature<R = unknown> {
  declare readonly __result?: R
  readonly task: string
  readonly args: readonly unknown[]
  readonly kwargs: Readonly<Record<string, unknown>>
  readonly options: Readonly<CallOptions>
  readonly immutable: boolean

  constructor(task: string, args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: CallOptions = {}, immutable = false) {
    this.task = task
    this.args = args
    this.kwargs = kwargs
    this.options = options
    this.immutable = immutable
  }

  /** A copy with more call options. */
  set(options: CallOptions): Signature<R> {
    return new Signature(this.task, this.args, { ...this.kwargs }, { ...this.options, ...options }, this.immutable)
  }

  clone(): Signature<R> {
    return new Signature(this.task, [...this.args], { ...this.kwargs }, { ...this.options }, this.immutable)
  }

  /** The plain-data form carried in messages. */
  toJSON(): SignatureData {
    const { link: _l, linkError: _e, ...options } = this.options
    return { task: this.task, args: [...this.args], kwargs: { ...this.kwargs }, options: options as Record<string, unknown>, immutable: this.immutable }
  }

  /** A signature from its plain-data form. */
  static from(data: SignatureData): Signature {
    return new Signature(data.task, data.args, data.kwargs, data.options as CallOptions, data.immutable)
  }
}

/**
 * A signature by task name, without importing the task.
 * @example signature('tasks.add', { args: [2, 2] })
 */
export function signature<R = unknown>(task: string, parts: { args?: unknown[]; kwargs?: Record<string, unknown>; options?: CallOptions; immutable?: boolean } = {}): Signature<R> {
  return new Signature<R>(task, parts.args, parts.kwargs, parts.options, parts.immutable)
}
