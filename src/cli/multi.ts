import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs'
import { hostname as osHostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { CommandFailed, UsageError } from './args.js'
import { isAlive } from './worker.js'
import { withoutNpm } from './parent-watch.js'
import { alignOptions } from './help.js'

export const multiHelp = alignOptions(`Usage: celeriac multi <start|stop|stopwait|restart|kill|show|names> <names|N> [options] [worker options]

Runs worker nodes in the background, one process each, with a pidfile and a logfile.
<names> are node names (w1 w2, or w1@%h); a number N means celery1..celeryN.
Worker options (-A, -c, -Q, -l, -E...) are passed to every \`celeriac worker\`.

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
  names     print the nodes' full names`)

interface Node {
  /** Full node name, `w1@host`. */
  name: string
  pidfile: string
  logfile: string
}

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
  const { names, pidfile, logfile, workerArgs } = split(rest)
  if (names.length === 0) throw new UsageError(`multi ${action}: name at least one node, or give a count`)
  const nodes = names.map((name): Node => ({ name, pidfile: expand(pidfile, name), logfile: expand(logfile, name) }))
  if (action === 'names') return print(nodes.map((node) => node.name))
  if (action === 'show') return print(nodes.map((node) => ['celeriac', ...workerCommand(node, workerArgs)].map(quoted).join(' ')))
  if (action === 'kill') return kill(nodes)
  if (action === 'stop') return stop(nodes, false)
  if (action === 'stopwait') return stop(nodes, true)
  if (action === 'restart') await stop(nodes, true)
  return start(nodes, workerArgs)
}

/** Node names, the file patterns, and what goes to each worker. */
function split(args: string[]): { names: string[]; pidfile: string; logfile: string; workerArgs: string[] } {
  const names: string[] = []
  const workerArgs: string[] = []
  let pidfile = '%n.pid'
  let logfile = '%n%I.log'
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    const [flag, inline] = arg.split(/=(.*)/s, 2)
    if (flag === '--pidfile' || flag === '--logfile') {
      const value = inline ?? args[++i]
      if (value === undefined) throw new UsageError(`${flag} needs a value`)
      if (flag === '--pidfile') pidfile = value
      else logfile = value
    } else if (arg.startsWith('-')) {
      workerArgs.push(arg)
      // The value of a worker option that takes one, e.g. -A app.ts or -c 2.
      if (inline === undefined && args[i + 1] !== undefined && !args[i + 1].startsWith('-') && !/^(-E|--events)$/.test(arg)) workerArgs.push(args[++i])
    } else if (workerArgs.length === 0) {
      names.push(arg)
    } else {
      throw new UsageError(`multi: unexpected ${JSON.stringify(arg)} after the worker options`)
    }
  }
  if (names.length === 1 && /^\d+$/.test(names[0])) {
    const count = Number(names[0])
    return { names: Array.from({ length: count }, (_, i) => nodeName(`celery${i + 1}`)), pidfile, logfile, workerArgs }
  }
  return { names: names.map(nodeName), pidfile, logfile, workerArgs }
}

function nodeName(name: string): string {
  const full = name.includes('@') ? name : `${name}@%h`
  return full.replace(/%h/g, osHostname())
}

/** Expands a pidfile/logfile pattern for a node. */
export function expand(pattern: string, node: string): string {
  const [name, host = ''] = node.split('@')
  const values: Record<string, string> = { '%n': name, '%h': node, '%d': host, '%i': '0', '%I': '', '%%': '%' }
  return pattern.replace(/%[nhdiI%]/g, (token) => values[token])
}

/** The `celeriac` arguments that run `node`. */
function workerCommand(node: Node, workerArgs: string[]): string[] {
  return ['worker', '-n', node.name, '--pidfile', node.pidfile, '--logfile', node.logfile, ...workerArgs]
}

/** `arg` as a POSIX shell reads it back. */
function quoted(arg: string): string {
  return /^[\w@%./:=,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

function print(lines: string[]): number {
  for (const line of lines) console.log(line)
  return 0
}

function readPid(node: Node): number | undefined {
  if (!existsSync(node.pidfile)) return undefined
  const pid = Number(readFileSync(node.pidfile, 'utf8').trim())
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined
}

async function start(nodes: Node[], workerArgs: string[]): Promise<number> {
  const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))
  console.log('> Starting nodes...')
  const started = await Promise.all(nodes.map(async (node) => {
    if (readPid(node) !== undefined) return `\t> ${node.name}: already running (pid ${readPid(node)})`
    const log = openSync(node.logfile, 'a')
    const child = spawn(process.execPath, [bin, ...workerCommand(node, workerArgs)], {
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
    while (readPid(node) !== child.pid) {
      const code = await Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100))])
      if (code !== undefined || Date.now() > deadline) return `\t> ${node.name}: FAILED (${code === undefined ? 'not ready in time' : `exit code ${code}`}; see ${node.logfile})`
    }
    return `\t> ${node.name}: OK (pid ${child.pid})`
  }))
  for (const line of started) console.log(line)
  if (started.some((line) => line.includes('FAILED'))) throw new CommandFailed('some nodes did not start')
  return 0
}

/** Celery's `multi kill`: SIGKILL, and the pidfile the node could not remove. */
function kill(nodes: Node[]): number {
  console.log('> Killing nodes...')
  for (const node of nodes) {
    const pid = readPid(node)
    if (pid === undefined) {
      console.log(`\t> ${node.name}: not running`)
      continue
    }
    process.kill(pid, 'SIGKILL')
    rmSync(node.pidfile, { force: true })
    console.log(`\t> ${node.name}: KILL -> ${pid}`)
  }
  return 0
}

async function stop(nodes: Node[], wait: boolean): Promise<number> {
  console.log(`> Stopping nodes${wait ? ' and waiting for them to exit' : ''}...`)
  const running = nodes.map((node) => ({ node, pid: readPid(node) }))
  for (const { node, pid } of running) {
    if (pid === undefined) console.log(`\t> ${node.name}: not running`)
    else {
      process.kill(pid, 'SIGTERM')
      console.log(`\t> ${node.name}: TERM -> ${pid}`)
    }
  }
  if (!wait) return 0
  await Promise.all(running.filter((r) => r.pid !== undefined).map(async ({ node, pid }) => {
    while (isAlive(pid!)) await new Promise((resolve) => setTimeout(resolve, 100))
    console.log(`\t> ${node.name}: DOWN`)
  }))
  return 0
}
