import { accessSync, constants, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { censorUrl } from '../config/conf.js'
import { ConfigError } from '../errors.js'
import { connectWithRetry } from './connect-retry.js'
import { cliLogger, makeDirs, parseLogFormat, parseLogLevel } from './cli-logger.js'
import { connectionHelp, connectionOptions, list, openApp, positiveInt, seconds, UsageError } from './args.js'
import { VERSION } from './version.js'
import type { App } from '../app/app.js'
import type { WorkerNode } from '../worker/worker-node.js'
import type { Beat } from '../beat/beat.js'
import type { WorkerOptions } from '../worker/worker-options.js'
import { isBuiltinTask } from '../client/task-handle.js'
import { watchParent } from './parent-watch.js'
import { alignOptions } from './help.js'

export const workerHelp = alignOptions(`Usage: celeriac worker -A <module> [options]

Starts a worker node serving the app found in <module>.

Options:
${connectionHelp}
  -l, --loglevel <level>           debug, info, warning, error, critical (default: warning)
  -c, --concurrency <n>            worker threads: tasks using a CPU core at once (default: config.workerConcurrency)
      --tasks-per-thread <n>       async tasks each thread runs at once; -c 1 --tasks-per-thread 1
                                   runs one task at a time (default: config.workerTasksPerThread)
      --lookahead <duration>       reserve tasks due to start within this beyond the free slots, e.g. 10ms;
                                   0 reserves none (default: config.workerLookahead)
  -Q, --queues <a,b>               queues to consume (default: the default queue)
  -n, --hostname <name>            node name; %h is the host name, %n its first part (default: celeriac@%h)
      --prefetch <n>               deprecated name of --tasks-per-thread
  -E, --events                     send task events
      --max-tasks-per-child <n>    recycle a thread after n tasks
      --max-memory-per-child <kb>  recycle a thread once its heap exceeds this many KiB
      --time-limit <s>             hard time limit of every task (config.taskTimeLimit)
      --soft-time-limit <s>        soft time limit of every task (config.taskSoftTimeLimit)
      --pidfile <file>             write the process id here; refuse to start if a live process holds it
      --logfile <file>             append JSON log lines here instead of stderr
      --log-format <json|pretty>   log lines on stderr (default: pretty on a terminal, else json)
  -B, --beat                       also run a beat in this process (see celeriac beat)
      --metrics-port <n>           serve Prometheus metrics on http://0.0.0.0:<n>/metrics
      --health-port <n>            serve probes on http://0.0.0.0:<n>/livez and /readyz
      --metrics-host <addr>        the interface for metrics instead of every one (0.0.0.0)
      --health-host <addr>         the interface for probes instead of every one (0.0.0.0)

TERM or INT: warm shutdown (stop consuming, let running tasks finish within
config.workerShutdownTimeout, requeue the rest). QUIT, or a second TERM/INT: cold shutdown
(stop now; with acksLate the running tasks go back to their queue).`)

/** `celeriac worker`: runs a node until TERM/INT/QUIT or a remote `shutdown`. */
export async function worker(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...connectionOptions,
      loglevel: { type: 'string', short: 'l' },
      concurrency: { type: 'string', short: 'c' },
      queues: { type: 'string', short: 'Q' },
      hostname: { type: 'string', short: 'n' },
      prefetch: { type: 'string' },
      'tasks-per-thread': { type: 'string' },
      lookahead: { type: 'string' },
      events: { type: 'boolean', short: 'E' },
      'max-tasks-per-child': { type: 'string' },
      'max-memory-per-child': { type: 'string' },
      'time-limit': { type: 'string' },
      'soft-time-limit': { type: 'string' },
      pidfile: { type: 'string' },
      logfile: { type: 'string' },
      'log-format': { type: 'string' },
      beat: { type: 'boolean', short: 'B' },
      'metrics-port': { type: 'string' },
      'health-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'health-host': { type: 'string' },
    },
    strict: true,
  })
  if (values.help) {
    console.log(workerHelp)
    return 0
  }
  if (!values.app) throw new UsageError('worker: -A/--app <module> is required')
  const options: WorkerOptions = {}
  if (values.concurrency !== undefined) options.concurrency = positiveInt(values.concurrency, '--concurrency')
  if (values.prefetch !== undefined) options.prefetch = positiveInt(values.prefetch, '--prefetch')
  if (values['tasks-per-thread'] !== undefined) options.tasksPerThread = positiveInt(values['tasks-per-thread'], '--tasks-per-thread')
  if (values.lookahead !== undefined) options.lookahead = seconds(values.lookahead, '--lookahead')
  if (values.queues !== undefined) {
    options.queues = list(values.queues)
    if (options.queues.length === 0) throw new UsageError(`-Q/--queues must name at least one queue, got ${JSON.stringify(values.queues)}`)
  }
  if (values.hostname !== undefined) options.hostname = values.hostname
  if (values.events) options.sendEvents = true
  if (values['max-tasks-per-child'] !== undefined) options.maxTasksPerChild = positiveInt(values['max-tasks-per-child'], '--max-tasks-per-child')
  if (values['max-memory-per-child'] !== undefined) options.maxMemoryPerChild = positiveInt(values['max-memory-per-child'], '--max-memory-per-child')
  if (values['metrics-port'] !== undefined) options.metrics = { port: port(values['metrics-port'], '--metrics-port'), ...(values['metrics-host'] ? { host: values['metrics-host'] } : {}) }
  if (values['health-port'] !== undefined) options.health = { port: port(values['health-port'], '--health-port'), ...(values['health-host'] ? { host: values['health-host'] } : {}) }
  if (values['metrics-host'] !== undefined && values['metrics-port'] === undefined) throw new UsageError('--metrics-host needs --metrics-port')
  if (values['health-host'] !== undefined && values['health-port'] === undefined) throw new UsageError('--health-host needs --health-port')
  const timeLimit = values['time-limit'] === undefined ? undefined : seconds(values['time-limit'], '--time-limit')
  const softTimeLimit = values['soft-time-limit'] === undefined ? undefined : seconds(values['soft-time-limit'], '--soft-time-limit')
  const level = parseLogLevel(values.loglevel ?? 'warning')
  const format = values['log-format'] === undefined ? undefined : parseLogFormat(values['log-format'])

  const app = await openApp(values)
  app.configFromObject({ taskTimeLimit: timeLimit, taskSoftTimeLimit: softTimeLimit })
  app.useLogger(cliLogger({ level, logfile: values.logfile, format }))
  if (values.pidfile !== undefined) claimPidfile(values.pidfile)
  await connectWithRetry(app, (line) => app.logger.error(line))
  const node = app.worker(options)
  await node.start().catch(configMistake)
  // -B: an embedded beat, stopped before the node. A bad schedule stops the node too.
  const beat = values.beat ? app.beat() : undefined
  await beat?.start().catch(async (error: unknown) => {
    await node.stop({ cold: true }).then(() => app.close())
    configMistake(error)
  })
  if (values.pidfile !== undefined) writeFileSync(values.pidfile, `${process.pid}\n`)
  console.log(banner(app, node))
  if (/^memory:/i.test(app.conf.broker)) {
    // Allowed, as one process can both send and run (-B, or the app's own code), but said.
    if (!beat) app.logger.warn(`the broker is ${app.conf.broker}, which lives in this process: no other process can send this worker tasks (name a shared broker with -b or CELERIAC_BROKER_URL)`)
  } else {
    if (/^memory:/i.test(app.conf.backend) && !app.conf.taskIgnoreResult) {
      // Celery users set the broker and expect results to follow; here they stay in this process.
      const unset = /^memory:\/\/$/i.test(app.conf.backend) ? ' (the default: none is configured)' : ''
      app.logger.warn(`the result backend is ${app.conf.backend}${unset}, which lives in this process: the results of this worker's tasks are stored where no other process can read them (name a shared one with --result-backend nats://, CELERIAC_RESULT_BACKEND, or the app's config)`)
    }
    void warnDuplicateName(app, node)
  }
  const code = await runUntilStopped(app, node, beat)
  if (values.pidfile !== undefined) rmSync(values.pidfile, { force: true })
  return code
}

/** Waits for a signal or a remote shutdown; warm first, cold on QUIT or a second signal. */
function runUntilStopped(app: App, node: WorkerNode, beat: Beat | undefined): Promise<number> {
  return new Promise<number>((resolve) => {
    let signals = 0
    let cold = false
    let stopping: Promise<void> | undefined
    const finish = () => {
      if (stopping) return
      stopping = node.stopped.then(() => beat?.stop()).then(() => app.close())
      stopping.then(() => {
        console.log(`${node.hostname} offline.`)
        // As Celery's: a warm shutdown exits 0, a cold one 1, so a supervisor tells them apart.
        resolve(cold ? 1 : 0)
      }, (error: Error) => {
        app.logger.error('shutdown failed', { error })
        resolve(1)
      })
    }
    const stop = (signal: NodeJS.Signals, why: string = signal) => {
      signals++
      cold = signals > 1 || signal === 'SIGQUIT'
      console.log(`\n${why}: ${cold ? 'cold' : 'warm'} shutdown${cold ? '' : ' (running tasks finish; send it again to stop now)'}`)
      Promise.resolve(beat?.stop()).then(() => node.stop({ cold })).catch((error: Error) => app.logger.error('stop failed', { error }))
      finish()
    }
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(signal, () => stop(signal))
    // Node's default for HUP (a closed terminal, a reload from systemd or supervisord) ends the
    // process at once: tasks acked as they started stayed PENDING for good. Celery restarts in
    // place (execv), which Node cannot: a warm stop, and the supervisor starts it again.
    process.on('SIGHUP', () => stop('SIGHUP', 'SIGHUP (restart it with your process manager)'))
    // Node's default for USR1 opens its inspector on 127.0.0.1:9229, to any local user. Celery
    // logs what the node is doing; so does this.
    process.on('SIGUSR1', () => app.logger.warn(`SIGUSR1: ${node.hostname} is ${node.state}, ${node.active} tasks on it, ${node.processed} done (Node's inspector stays closed: start node with --inspect to debug)`, { hostname: node.hostname }))
    // Under npx, a TERM to npm's pid does not reach this process; its parent's exit does. A
    // stop already under way (Ctrl+C reaches every process of the terminal) is not escalated.
    const unwatch = watchParent((ppid) => {
      if (signals === 0) stop('SIGTERM', `parent process ${ppid} exited (npm does not pass its signals on)`)
    })
    void node.stopped.finally(unwatch)
    // A remote `celeriac control shutdown` stops the node without a signal.
    void node.stopped.then(finish)
  })
}

/**
 * Celery's DuplicateNodenameWarning: asks who answers to this node's name (the node itself
 * does), and warns when another process does too. Runs after the banner, off the start path.
 */
async function warnDuplicateName(app: App, node: WorkerNode): Promise<void> {
  try {
    const replies = await app.control.ping({ timeout: 1 })
    const others = Object.keys(replies).filter((key) => key.startsWith(`${node.hostname} (pid `) && key !== `${node.hostname} (pid ${process.pid})`)
    if (others.length > 0) app.logger.warn(`DuplicateNodenameWarning: ${others.length + 1} nodes answer as ${node.hostname} (${others.join(', ')} and this one, pid ${process.pid}): give each node a unique name with -n (e.g. -n w2@%h)`)
  } catch {
    // Stopped while asking: nobody left to warn.
  }
}

/**
 * A node or beat that would not start for a mistake in the configuration (an include list
 * naming a module that is not there, a bad schedule, a server without JetStream) exits 2, as
 * the README says of configuration mistakes; anything else that stopped it stays a failure (1).
 */
function configMistake(error: unknown): never {
  // By name: the app module may have loaded another copy of celeriac than this command's.
  if (error instanceof Error && error.name === 'ConfigError') throw new UsageError(error.message, { cause: error })
  throw error
}

/**
 * Refuses a pidfile that holds the pid of a live process (another node with the same name),
 * or whose folder cannot be made or written: said now, not once the node has connected.
 */
function claimPidfile(path: string): void {
  if (!existsSync(path)) {
    try {
      makeDirs(dirname(path))
      accessSync(dirname(path), constants.W_OK)
    } catch (error) {
      throw new UsageError(`cannot write --pidfile ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
    return
  }
  const pid = Number(readFileSync(path, 'utf8').trim())
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) throw new ConfigError(`pidfile ${path} holds the pid of a running process (${pid}): is this node already running?`)
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Celery's start-up banner: who, where, what it consumes and serves. */
function banner(app: App, node: WorkerNode): string {
  const declared = new Map(app.conf.taskQueues.map((q) => [q.name, q]))
  const queues = node.options.queues.map((name) => {
    const q = declared.get(name)
    const exchange = q?.exchange ? `${q.exchange}(${q.exchangeType ?? 'direct'})` : '(default)'
    return `.> ${name.padEnd(16)} exchange=${exchange} key=${q?.routingKey ?? name}`
  })
  const events = node.options.sendEvents ? 'ON' : 'OFF (enable -E to monitor tasks in this worker)'
  return [
    `celeriac v${VERSION} (${node.hostname})`,
    '',
    '[config]',
    `.> app:         ${app.name}`,
    `.> transport:   ${censorUrl(app.conf.broker)}`,
    `.> results:     ${censorUrl(app.conf.backend)}`,
    `.> concurrency: ${node.options.concurrency} (threads) x ${node.options.tasksPerThread} (tasks per thread) = ${node.options.concurrency * node.options.tasksPerThread} in flight`,
    `.> lookahead:   ${node.options.lookaheadMs === 0 ? 'off (pulls only for free slots)' : `${node.options.lookaheadMs} ms (reserves the tasks it will start within it)`}`,
    `.> task events: ${events}`,
    // The URLs name 127.0.0.1 to be followed; what listens is every interface unless -host said.
    ...(node.endpoints.metrics ? [`.> metrics:     ${node.endpoints.metrics}${everyInterface(node.options.metrics?.host)}`] : []),
    ...(node.endpoints.health ? [`.> probes:      ${node.endpoints.health}/livez ${node.endpoints.health}/readyz${everyInterface(node.options.health?.host)}`] : []),
    '',
    '[queues]',
    ...queues,
    '',
    '[tasks]',
    ...[...app.tasks.keys()].filter((task) => !isBuiltinTask(task)).sort().map((task) => `  . ${task}`),
    '',
    `${node.hostname} ready.`,
  ].join('\n')
}

/** A TCP port from a flag; 0 picks a free one. */
function port(value: string, flag: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`${flag} must be a port number from 0 to 65535, got ${value}`)
  return n
}

/** Says that an endpoint listens on every interface, where it does. */
function everyInterface(host: string | undefined): string {
  return host === undefined || host === '0.0.0.0' || host === '::' ? ' (listening on every interface)' : ''
}
