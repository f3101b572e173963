/**
 * Call options as data: the one way from a callback (a signature, or its data) to the data
 * that travels in messages. The publisher uses it for `link`/`linkError`, a signature for its
 * `toJSON()`, and the plan for the options given to `applyAsync`.
 * @module
 */
import { InvalidArgumentError } from '../errors.js'
import { describe, isSignatureData, type SignatureData } from './data.js'
import type { Callback, CallOptions } from './call-options.js'

/** A callback's data: a signature becomes its `toJSON()`, data stays as it is. */
export function callbackOf(callback: Callback): SignatureData {
  return typeof (callback as { toJSON?: unknown }).toJSON === 'function' ? (callback as { toJSON(): SignatureData }).toJSON() : (callback as SignatureData)
}

/**
 * One callback or a list of them, as a list of data; `undefined` stays `undefined`. Anything
 * else is refused here, naming `where`: a worker would dead-letter the task that carries it.
 */
export function callbackData(value: Callback | readonly Callback[] | undefined, where = 'link'): SignatureData[] | undefined {
  if (value === undefined) return undefined
  return (Array.isArray(value) ? value : [value as Callback]).map((callback: unknown) => {
    const data = typeof callback === 'object' && callback !== null ? callbackOf(callback as Callback) : callback
    if (!isSignatureData(data)) throw new InvalidArgumentError(`${where} must be a signature (task.s(...), chain, group, chord) or its data, got ${describe(callback)}${typeof callback === 'string' ? ` ${JSON.stringify(callback)}: make it a signature, signature(${JSON.stringify(callback)})` : ''}`)
    return data
  })
}

/** Call options as data: the callbacks in `link` and `linkError` become their data. */
export function optionsData(options: Readonly<CallOptions>): Record<string, unknown> {
  const { link, linkError, ...rest } = options
  const data: Record<string, unknown> = { ...rest }
  if (link !== undefined) data.link = callbackData(link, 'options.link')
  if (linkError !== undefined) data.linkError = callbackData(linkError, 'options.linkError')
  return data
}
