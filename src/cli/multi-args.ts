import { hostname as osHostname } from 'node:os'
import { UsageError } from './args.js'

/** One option that `celeriac multi` was given for its nodes: `-c 2`, or one node's `-c:w1 2`. */
export interface NodeOption {
  /** The flag as written, without its selector: `-c`, `--concurrency`. */
  flag: string
  /** What the flag sets, one key for its short and long spelling: `-c` and `--concurrency` are `concurrency`. */
  key: string
  /** Its value; absent for a flag that takes none (`-E`). */
  value?: string
  /** Whether it was written `--flag=value`. */
  inline: boolean
  /** The nodes it is for, as written after the colon (`w1`, `2`, `1-3`, `1,3`); absent: every node. */
  selector?: string
}

/** What `celeriac multi <action>` was given after its action. */
export interface MultiArgs {
  /** Node names as given (`w1`, `w1@%h`), or one count (`3`). */
  names: string[]
  /** The options, in order, each for every node or for those its selector names. */
  options: NodeOption[]
}

/** A node as `multi` knows it before it builds its command. */
export interface NamedNode {
  /** The name as given, or `celeryN` for a count. */
  given: string
  /** Full node name, `w1@host`. */
  name: string
}

// The worker's short flags, so that `-c:w1 2` replaces a general `--concurrency 1` (and back).
const SHORT_KEYS: Readonly<Record<string, string>> = { A: 'app', b: 'broker', l: 'loglevel', c: 'concurrency', Q: 'queues', n: 'hostname', E: 'events', B: 'beat' }
const FLAGS_WITHOUT_VALUE = new Set(['events', 'beat'])

/**
 * Splits `multi`'s arguments into node names and options. Celery's per-node forms are read
 * here: `-c:w1 2`, `--concurrency:w1 2` and `--concurrency:w1=2`.
 */
export function parseMultiArgs(args: string[]): MultiArgs {
  const names: string[] = []
  const options: NodeOption[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (!arg.startsWith('-')) {
      if (options.length > 0) throw new UsageError(`multi: unexpected ${JSON.stringify(arg)} after the worker options`)
      names.push(arg)
      continue
    }
    const [written, inlineValue] = arg.split(/=(.*)/s, 2)
    const namespaced = /^(--[\w-]+|-[A-Za-z]):(.+)$/.exec(written)
    const flag = namespaced ? namespaced[1] : written
    const key = flag.startsWith('--') ? flag.slice(2) : SHORT_KEYS[flag.slice(1)] ?? flag
    const option: NodeOption = { flag, key, inline: inlineValue !== undefined, selector: namespaced?.[2] }
    if (inlineValue !== undefined) option.value = inlineValue
    // There are no positional worker arguments: a bare word after a flag is its value.
    else if (!FLAGS_WITHOUT_VALUE.has(key) && args[i + 1] !== undefined && !args[i + 1].startsWith('-')) option.value = args[++i]
    if ((key === 'pidfile' || key === 'logfile') && option.value === undefined) throw new UsageError(`${written} needs a value`)
    options.push(option)
  }
  return { names, options }
}

/** The nodes that `names` (the names as given, or one count N: celery1..celeryN) stand for. */
export function namedNodes(names: string[]): NamedNode[] {
  const given = names.length === 1 && /^\d+$/.test(names[0]) ? Array.from({ length: Number(names[0]) }, (_, i) => `celery${i + 1}`) : names
  return given.map((name) => ({ given: name, name: nodeName(name) }))
}

/** A node name with its host: `w1` is `w1@<host>`, `%h` the host name. */
export function nodeName(name: string): string {
  const full = name.includes('@') ? name : `${name}@%h`
  return full.replace(/%h/g, osHostname())
}

/**
 * The options node `index` of `nodes` runs with, Celery's way: the general ones in order, each
 * replaced by the node's own value where one of its selectors names the node (the last one
 * wins), and the node's own options the general ones lack after them. Selectors are gone.
 */
export function optionsFor(options: NodeOption[], nodes: NamedNode[], index: number): NodeOption[] {
  let merged = options.filter((option) => option.selector === undefined)
  for (const option of options) {
    if (option.selector === undefined || !selected(option, nodes).includes(index)) continue
    const own = { ...option, selector: undefined }
    const first = merged.findIndex((m) => m.key === option.key)
    merged = first === -1 ? [...merged, own] : merged.flatMap((m, i) => (m.key !== option.key ? [m] : i === first ? [own] : []))
  }
  return merged
}

/** Refuses a selector that names no node: `-c:w9 2` when there is no w9. */
export function checkSelectors(options: NodeOption[], nodes: NamedNode[]): void {
  for (const option of options) if (option.selector !== undefined) selected(option, nodes)
}

/** The options as worker arguments. */
export function optionArgs(options: NodeOption[]): string[] {
  return options.flatMap((o) => (o.value === undefined ? [o.flag] : o.inline ? [`${o.flag}=${o.value}`] : [o.flag, o.value]))
}

/**
 * The indexes of the nodes an option's selector names: a node's name (as given, before `@`, or
 * full), its 1-based index, a range of indexes `1-3`, or a comma-separated list of these.
 */
function selected(option: NodeOption, nodes: NamedNode[]): number[] {
  const selector = option.selector!
  // Names may hold a comma or a dash (`cli-1`): a whole name is read first.
  const whole = byName(selector, nodes)
  if (whole.length > 0) return whole
  return selector.split(',').flatMap((part) => {
    const named = byName(part, nodes)
    if (named.length > 0) return named
    const range = /^(\d+)(?:-(\d+))?$/.exec(part)
    const from = Number(range?.[1])
    const to = Number(range?.[2] ?? range?.[1])
    if (range && from >= 1 && from <= to && to <= nodes.length) return Array.from({ length: to - from + 1 }, (_, i) => from - 1 + i)
    const known = nodes.map((node, i) => `${i + 1} ${node.name}`).join(', ')
    const what = part === selector ? `${option.flag}:${selector}` : `${option.flag}:${selector}: ${part}`
    throw new UsageError(`multi: ${what} names no node (the nodes: ${known}; select one by its name, its index, a range 1-3 or a list 1,3)`)
  })
}

function byName(part: string, nodes: NamedNode[]): number[] {
  const full = nodeName(part)
  return nodes.flatMap((node, i) => (part === node.given || part === node.name.split('@')[0] || full === node.name ? [i] : []))
}
