import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { CommandFailed, UsageError } from './args.js'
import { isAlive } from './worker.js'
import { checkSelectors, namedNodes, nodeName, optionArgs, optionsFor, parseMultiArgs } from './multi-args.js'
import { expandHostname } from '../worker/worker-options.js'
import { withoutNpm } from './parent-watch.js'
import { alignOptions } from './help.js'

export const multiHelp = alignOptions(`Usage: celeriac multi <start|stop|stopwait|restart|kill|show|names> <names|N> [options] [worker options]

Runs worker nodes in the background, one process each, with a pidfile and a logfile.
<names> are node names (w1 w2, or w1@%h); a number N means celery1..celeryN.
Worker options (-A, -c, -Q, -l, -E...) are passed to every \`celeriac worker\`; one node's own
value, Celery's way, replaces the general one for that node: -c:w1 2, -Q:2 other (the second
node), --loglevel:1-3 debug, --queues:1,3=other. A node is selected by its name or its 1-based
index; --pidfile and --logfile take a node's own value too.

Options:
      --pidfile <pattern>  pidfile of each node (default: %n.pid)
      --logfile <pattern>  logfile of each node (default: %n%I.log)
  -h, --help               show this help

Patterns: %n the node's name (before @), %h its full name, %d its host part, %i 0 and %I
nothing (Celery's pool process index: a node here is one process), %% a percent sign.

  start     start the nodes, wait until each is serving
  stop      send TERM (warm shutdown) to each node
  stopwait  send TERM and wait until each node has exited
  restart   stopwait, then start
  kill      send KILL to each node: its running tasks die with it (acksLate ones run again)
  show      print the command each node runs
  names     print the nodes' full names

A node's pid is the one in its pidfile, once that process is checked to be the node's
\`celeriac worker\` (on Linux): a pidfile that names another process is stale, and not signalled.`)

interface Node {
  /** Full node name, `w1@host`. */
  name: string
  pidfile: string
  logfile: string
  /** Its worker options, its own values applied. */
  workerArgs: string[]
}

/** What a node's pidfile says about it. */
type PidState =
  | { type: 'running'; pid: number }
  | { type: 'no-pidfile' }
  /** The pidfile names no live process: a node that died without removing it. */
  | { type: 'dead' }
  /** The pidfile names a live process that is not this node (the pid was reused). */
  | { type: 'other'; pid: number }

const READY_TIMEOUT_MS = 60_000
const ACTIONS = ['start', 'stop', 'stopwait', 'restart', 'kill', 'show', 'names']

/** `celeriac multi`: starts and stops background worker nodes. */
export async function multi(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    console.log(multiHelp)
    return 0
  }
  const [action, ...rest] = argv
  if (!ACTIONS.includes(action)) throw new UsageError(`multi: expected one of ${ACTIONS.join(', ')}, got ${action ?? 'nothing'}`)
  const { names, options } = parseMultiArgs(rest)
  if (names.length === 0) throw new UsageError(`multi ${action}: name at least one node, or give a count`)
  const named = namedNodes(names)
  checkSelectors(options, named)
  const nodes = named.map(({ name }, index): Node => {
    const own = optionsFor(options, named, index)
    const file = (key: string, fallback: string) => own.findLast((option) => option.key === key)?.value ?? fallback
    const workerArgs = optionArgs(own.filter((option) => option.key !== 'pidfile' && option.key !== 'logfile'))
    return { name, pidfile: expand(file('pidfile', '%n.pid'), name), logfile: expand(file('logfile', '%n%I.log'), name), workerArgs }
  })
  if (action === 'names') return print(nodes.map((node) => node.name))
  if (action === 'show') return print(nodes.map((node) => ['celeriac', ...workerCommand(node)].map(quoted).join(' ')))
  if (action === 'kill') return kill(nodes)
  if (action === 'stop') return stop(nodes, action, false)
  if (action === 'stopwait') return stop(nodes, action, true)
  if (action === 'restart') await stop(nodes, action, true)
  return start(nodes)
}

/** Expands a pidfile/logfile pattern for a node. */
export function expand(pattern: string, node: string): string {
  const [name, host = ''] = node.split('@')
  const values: Record<string, string> = { '%n': name, '%h': node, '%d': host, '%i': '0', '%I': '', '%%': '%' }
  return pattern.replace(/%[nhdiI%]/g, (token) => values[token])
}

/** The `celeriac` arguments that run `node`. */
function workerCommand(node: Node): string[] {
  return ['worker', '-n', node.name, '--pidfile', node.pidfile, '--logfile', node.logfile, ...node.workerArgs]
}

/** `arg` as a POSIX shell reads it back. */
function quoted(arg: string): string {
  return /^[\w@%./:=,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

function print(lines: string[]): number {
  for (const line of lines) console.log(line)
  return 0
}

/** The pid written in a pidfile, if it holds one. */
function pidIn(pidfile: string): number | undefined {
  if (!existsSync(pidfile)) return undefined
  const pid = Number(readFileSync(pidfile, 'utf8').trim())
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}

/**
 * Whether the node's pidfile names the node: a pid outlives its process and is reused, so a
 * live pid alone may be any process (signalling it would stop that one instead).
 */
function pidState(node: Node): PidState {
  if (!existsSync(node.pidfile)) return { type: 'no-pidfile' }
  const pid = pidIn(node.pidfile)
  if (pid === undefined || !isAlive(pid)) return { type: 'dead' }
  return isNodeProcess(pid, node.name) ? { type: 'running', pid } : { type: 'other', pid }
}

/**
 * Whether process `pid` runs `celeriac worker` as node `name`, read from its command line on
 * Linux. Elsewhere (no /proc) the pidfile is trusted.
 */
export function isNodeProcess(pid: number, name: string): boolean {
  let cmdline: string
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    return process.platform !== 'linux' || !existsSync('/proc/self/cmdline')
  }
  const args = cmdline.split('\0')
  // bin/celeriac.js, an installed `celeriac`, or the built dist/cli/main.js.
  const bin = args.findIndex((arg) => /(^|\/)celeriac(\.[cm]?js)?$|\/cli\/main\.[cm]?[jt]s$/.test(arg))
  if (bin === -1 || !args.slice(bin + 1).includes('worker')) return false
  return args.slice(bin + 1).some((arg, i, after) => {
    const value = arg === '-n' || arg === '--hostname' ? after[i + 1] : /^(?:-n|--hostname=)(.+)$/.exec(arg)?.[1]
    return value !== undefined && (expandHostname(value) === name || nodeName(value) === name)
  })
}

/** How `multi` reports a pidfile that names another process. */
function stale(node: Node, pid: number): string {
  return `stale pidfile ${node.pidfile}: pid ${pid} is another process, not ${node.name}`
}

async function start(nodes: Node[]): Promise<number> {
  const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))
  console.log('> Starting nodes...')
  const started = await Promise.all(nodes.map(async (node) => {
    const state = pidState(node)
    if (state.type === 'running') return `\t> ${node.name}: already running (pid ${state.pid})`
    let said = ''
    if (state.type === 'other') {
      // The worker refuses a pidfile with a live pid in it: this one is not the node's.
      rmSync(node.pidfile, { force: true })
      said = `\t> ${node.name}: ${stale(node, state.pid)}: removed\n`
    }
    const log = openSync(node.logfile, 'a')
    const child = spawn(process.execPath, [bin, ...workerCommand(node)], {
      detached: true,
      // The node outlives this command on purpose: no parent watch (see parent-watch.ts).
      env: withoutNpm(process.env),
      stdio: ['ignore', log, log],
    })
    closeSync(log)
    child.unref()
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    const deadline = Date.now() + READY_TIMEOUT_MS
    // The worker writes its pidfile once it serves.
    while (pidIn(node.pidfile) !== child.pid) {
      const code = await Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100))])
      if (code !== undefined || Date.now() > deadline) return `${said}\t> ${node.name}: FAILED (${code === undefined ? 'not ready in time' : `exit code ${code}`}; see ${node.logfile})`
    }
    return `${said}\t> ${node.name}: OK (pid ${child.pid})`
  }))
  for (const line of started) console.log(line)
  if (started.some((line) => line.includes('FAILED'))) throw new CommandFailed('some nodes did not start')
  return 0
}

/** Celery's `multi kill`: SIGKILL, and the pidfile the node could not remove. */
function kill(nodes: Node[]): number {
  console.log('> Killing nodes...')
  for (const node of nodes) {
    const state = pidState(node)
    if (state.type !== 'running') {
      console.log(`\t> ${node.name}: ${state.type === 'other' ? `${stale(node, state.pid)}: not signalled` : 'not running'}`)
      continue
    }
    process.kill(state.pid, 'SIGKILL')
    rmSync(node.pidfile, { force: true })
    console.log(`\t> ${node.name}: KILL -> ${state.pid}`)
  }
  return 0
}

async function stop(nodes: Node[], action: string, wait: boolean): Promise<number> {
  console.log(`> Stopping nodes${wait ? ' and waiting for them to exit' : ''}...`)
  const running: Array<{ node: Node; pid: number }> = []
  for (const node of nodes) {
    const state = pidState(node)
    if (state.type === 'running') {
      process.kill(state.pid, 'SIGTERM')
      running.push({ node, pid: state.pid })
      console.log(`\t> ${node.name}: TERM -> ${state.pid}`)
    } else if (state.type === 'other') console.log(`\t> ${node.name}: ${stale(node, state.pid)}: not signalled`)
    // The pattern is the only link from a name to a process: a different one finds nothing.
    else if (state.type === 'no-pidfile') console.log(`\t> ${node.name}: no pidfile ${node.pidfile}: not running, or started with another --pidfile (give ${action} the same --pidfile as start)`)
    else console.log(`\t> ${node.name}: not running`)
  }
  if (!wait) return 0
  await Promise.all(running.map(async ({ node, pid }) => {
    while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 100))
    console.log(`\t> ${node.name}: DOWN`)
  }))
  return 0
}
