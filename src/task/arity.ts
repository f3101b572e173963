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

/** What an arity check and keyword binding need to know about a task (a {@link TaskDefinition} has it all). */
export interface ArityOf {
  readonly name: string
  readonly arity: Arity
  /** The task's code, read once for its parameter names (see {@link parameterNames}). */
  readonly fn?: (...args: any[]) => unknown
  readonly cls?: { readonly prototype: { run: (...args: any[]) => unknown } }
  readonly options?: { readonly bind?: boolean; readonly params?: readonly string[] }
}

/** True when a call's kwargs are given and not empty: only then are they passed on. */
export function hasKwargs(kwargs: object | null | undefined): kwargs is object {
  if (kwargs == null) return false
  // for-in instead of Object.keys: no array per call on the thread's hot path.
  for (const _ in kwargs) return true
  return false
}

/**
 * The arguments a task is called with, or the InvalidArgumentError that says why the call
 * cannot work. Kwargs are bound as Celery binds them, with one JavaScript addition:
 *
 * - when every key names one of the task's parameters (its `params` option, else the names
 *   read from its code, see {@link parameterNames}), each value takes its parameter's position:
 *   `add` called with `{ x: 1, y: 2 }` runs `add(1, 2)`; args and kwargs mix (`[1]` with
 *   `{ y: 2 }`); a parameter left out is `undefined`, so its default applies;
 * - otherwise the kwargs object is passed as one trailing argument (an options object).
 *
 * With `strict` (the task's `typing`), a call that cannot work is refused: too many or too
 * few arguments, a keyword that repeats a positional argument, an unknown keyword, a missing
 * required parameter. Without it the arguments are passed as they are.
 */
export function bindArguments(task: ArityOf, args: readonly unknown[], kwargs: Record<string, unknown> | null | undefined, strict = true): readonly unknown[] | InvalidArgumentError {
  if (!hasKwargs(kwargs)) return strict ? (countError(task, args.length, false) ?? args) : args
  const names = task.options?.params ?? parameterNames(task)
  let unknown: string | undefined
  if (names) for (const key in kwargs) if (!names.includes(key)) { unknown ??= key; break }
  if (names === undefined || unknown !== undefined) {
    const withTrailing = [...args, kwargs]
    if (!strict) return withTrailing
    const counted = countError(task, withTrailing.length, true)
    if (counted === undefined) return withTrailing
    return unknown === undefined ? counted : new InvalidArgumentError(`${task.name} got an unexpected keyword argument '${unknown}'`)
  }
  const bound: unknown[] = [...args]
  for (const key in kwargs) {
    const at = names.indexOf(key)
    if (at < args.length) {
      if (strict) return new InvalidArgumentError(`${task.name} got multiple values for argument '${key}'`)
      return [...args, kwargs]
    }
    while (bound.length < at) bound.push(undefined)
    bound[at] = kwargs[key]
  }
  if (!strict) return bound
  if (args.length > task.arity.max) return countError(task, args.length, false)!
  for (let i = args.length; i < task.arity.min; i++) {
    if (i >= bound.length || !Object.hasOwn(kwargs, names[i])) return new InvalidArgumentError(`${task.name} missing required argument '${names[i]}'`)
  }
  return bound
}

/**
 * The error for a call whose arguments the task cannot take, or undefined when it can
 * (Celery's `typing`): see {@link bindArguments}.
 */
export function arityError(task: ArityOf, args: readonly unknown[], kwargs: object | null | undefined): InvalidArgumentError | undefined {
  const bound = bindArguments(task, args, kwargs as Record<string, unknown> | null | undefined)
  return bound instanceof InvalidArgumentError ? bound : undefined
}

/** Throws {@link arityError}'s InvalidArgumentError when the task cannot take the call's arguments. */
export function checkArity(task: ArityOf, args: readonly unknown[], kwargs: object | null | undefined): void {
  const error = arityError(task, args, kwargs)
  if (error) throw error
}

function countError(task: ArityOf, given: number, trailing: boolean): InvalidArgumentError | undefined {
  const { min, max } = task.arity
  if (given >= min && given <= max) return undefined
  const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`
  const plural = (min === max || max === Infinity) && min === 1 ? '' : 's'
  return new InvalidArgumentError(`${task.name} takes ${want} argument${plural}, got ${given}${trailing ? ' (kwargs count as one trailing argument)' : ''}`)
}

// Read once per task code: a function's source does not change.
const namesCache = new WeakMap<object, readonly string[] | null>()

/**
 * The names of a task's parameters, in order, as its code spells them (the bound context
 * parameter left out), for binding kwargs; undefined when they cannot all be read. Read:
 * plain names, with or without a default value (`(x, y = 2)`), in arrow functions, function
 * expressions and a class task's `run`. Refused (no binding by name; kwargs then arrive as one
 * trailing object): a destructuring pattern (`({ x, y })`, `([a, b])`), a rest parameter, and
 * code whose source does not show them (native or bound functions, minified names that differ
 * from the caller's). Declare the `params` task option in those cases.
 */
export function parameterNames(task: ArityOf): readonly string[] | undefined {
  const fn = task.fn ?? task.cls?.prototype.run
  if (typeof fn !== 'function') return undefined
  let names = namesCache.get(fn)
  if (names === undefined) {
    const params = parameterList(fn.toString())
    const read = params?.map((param) => /^([A-Za-z_$][\w$]*)\s*(?:=|$)/.exec(param)?.[1])
    names = read === undefined || read.some((name) => name === undefined) ? null : (read as string[])
    namesCache.set(fn, names)
  }
  if (names === null) return undefined
  return task.fn !== undefined && task.options?.bind ? names.slice(1) : names
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
