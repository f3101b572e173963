/**
 * How many arguments a task takes, and whether a call gives it that many: the one place where
 * a call's arguments meet the task's parameters, for the publisher, beat, eager calls and the
 * worker thread alike.
 * @module
 */
import { InvalidArgumentError } from '../errors.js'

/** How many positional arguments a task takes. */
export interface Arity {
  min: number
  max: number
}

/** What an arity check needs to know about a task. */
export interface ArityOf {
  readonly name: string
  readonly arity: Arity
}

/** True when a call's kwargs are given and not empty: only then are they passed on. */
export function hasKwargs(kwargs: object | null | undefined): kwargs is object {
  if (kwargs == null) return false
  // for-in instead of Object.keys: no array per call on the thread's hot path.
  for (const _ in kwargs) return true
  return false
}

/**
 * The arguments a JavaScript task is called with: kwargs reach it as one trailing object
 * argument (DESIGN.md), and only when there are some. Returns `args` itself when there are none.
 */
export function callArguments(args: readonly unknown[], kwargs: Record<string, unknown> | null | undefined): readonly unknown[] {
  return hasKwargs(kwargs) ? [...args, kwargs] : args
}

/**
 * The error for a call whose argument count the task cannot take, or undefined when it can
 * (Celery's `typing`). Kwargs count as one trailing argument.
 */
export function arityError(task: ArityOf, args: readonly unknown[], kwargs: object | null | undefined): InvalidArgumentError | undefined {
  const withKwargs = hasKwargs(kwargs)
  const given = args.length + (withKwargs ? 1 : 0)
  const { min, max } = task.arity
  if (given >= min && given <= max) return undefined
  const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`
  const plural = (min === max || max === Infinity) && min === 1 ? '' : 's'
  return new InvalidArgumentError(`${task.name} takes ${want} argument${plural}, got ${given}${withKwargs ? ' (kwargs count as one trailing argument)' : ''}`)
}

/** Throws {@link arityError}'s InvalidArgumentError when the task cannot take the call's arguments. */
export function checkArity(task: ArityOf, args: readonly unknown[], kwargs: object | null | undefined): void {
  const error = arityError(task, args, kwargs)
  if (error) throw error
}

/**
 * Reads how many arguments a function takes from its source: `fn.length` gives the required
 * ones; the parameter list tells optional and rest parameters apart. When the source cannot be
 * read (native or bound functions), any number above the minimum is accepted.
 *
 * TypeScript's `x?: T` leaves no trace at run time, so such a parameter counts as required:
 * give it a default (`x: T = ...`) or register the task with `typing: false`.
 */
export function arityOf(fn: (...args: any[]) => unknown, skip = 0): Arity {
  const min = Math.max(0, fn.length - skip)
  const params = parameterList(fn.toString())
  if (params === undefined || params.some((p) => p.startsWith('...'))) return { min, max: Infinity }
  return { min, max: Math.max(min, params.length - skip) }
}

function parameterList(source: string): string[] | undefined {
  // Native and bound functions show no parameters: nothing can be read from them.
  if (source.includes('[native code]')) return undefined
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
  const arrow = /^\s*(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(text)
  if (arrow) return [arrow[1]]
  const open = text.indexOf('(')
  if (open === -1 || /^class[\s{]/.test(text)) return undefined
  const params: string[] = []
  let depth = 0
  let current = ''
  let quote = ''
  for (let i = open + 1; i < text.length; i++) {
    const ch = text[i]
    // Inside a string literal (a default value) brackets and commas do not count.
    if (quote) {
      current += ch
      if (ch === '\\') current += text[++i] ?? ''
      else if (ch === quote) quote = ''
      continue
    }
    if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch
      current += ch
      continue
    }
    if (ch === '(' || ch === '[' || ch === '{') depth++
    if (ch === ')' || ch === ']' || ch === '}') {
      if (depth === 0) {
        if (current.trim()) params.push(current.trim())
        return params
      }
      depth--
    }
    if (ch === ',' && depth === 0) {
      params.push(current.trim())
      current = ''
    } else {
      current += ch
    }
  }
  return undefined
}
