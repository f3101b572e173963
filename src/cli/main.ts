/**
 * The celeriac command line, Celery's commands: worker, call, result, purge, status, inspect,
 * control, events, multi, beat, dashboard. Exit codes: 0 ok, 1 a task or remote failure, 2 a usage error.
 */
import { call, callHelp } from './call.js'
import { control, controlHelp } from './control.js'
import { events, eventsHelp } from './events.js'
import { inspect, inspectHelp } from './inspect.js'
import { multi, multiHelp } from './multi.js'
import { purge, purgeHelp } from './purge.js'
import { result, resultHelp } from './result.js'
import { status, statusHelp } from './status.js'
import { worker, workerHelp } from './worker.js'
import { beat, beatHelp } from './beat.js'
import { dashboard, dashboardHelp } from './dashboard.js'
import { UsageError } from './args.js'
import { closestKey } from '../util/closest.js'
import { VERSION } from './version.js'

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string; summary: string }> = {
  worker: { run: worker, help: workerHelp, summary: 'start a worker node' },
  call: { run: call, help: callHelp, summary: 'send a task by name, print its id' },
  result: { run: result, help: resultHelp, summary: "print a task's result" },
  purge: { run: purge, help: purgeHelp, summary: 'remove waiting tasks from queues' },
  status: { run: status, help: statusHelp, summary: 'list the nodes that are up' },
  inspect: { run: inspect, help: inspectHelp, summary: 'ask the nodes (active, stats, registered...)' },
  control: { run: control, help: controlHelp, summary: 'change the nodes (rate_limit, revoke, shutdown...)' },
  events: { run: events, help: eventsHelp, summary: 'print cluster events as they happen' },
  multi: { run: multi, help: multiHelp, summary: 'start and stop background worker nodes' },
  beat: { run: beat, help: beatHelp, summary: 'send periodic tasks (one leader among several beats)' },
  dashboard: { run: dashboard, help: dashboardHelp, summary: 'serve the web dashboard and HTTP API' },
}

const help = `Usage: celeriac [-A <module>] <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`).join('\n')}

Run \`celeriac <command> --help\` for a command's options.

Configuration, later wins: the app module (createApp, app.configFromObject), then CELERIAC_*
environment variables (CELERIAC_BROKER_URL, CELERIAC_RESULT_BACKEND, CELERIAC_TASK_ACKS_LATE...,
every config key in upper snake case), then the command line (-b, --result-backend, ...).
An unknown key or variable, or a bad value, is an error naming it.

Options:
  --version   print the version
  -h, --help  show this help`

/** Options Celery takes before the command (`celery -A proj worker`), moved after it. */
const GLOBAL = /^(-A|--app|-b|--broker|--result-backend)$/

async function main(argv: string[]): Promise<number> {
  const global: string[] = []
  let i = 0
  for (; i < argv.length && GLOBAL.test(argv[i]); i += 2) global.push(argv[i], argv[i + 1])
  const [command, ...rest] = argv.slice(i)
  if (command === undefined || command === '-h' || command === '--help') {
    console.log(help)
    return command === undefined ? 2 : 0
  }
  if (command === '--version') {
    console.log(VERSION)
    return 0
  }
  if (!Object.hasOwn(COMMANDS, command)) {
    const near = closestKey(command, Object.keys(COMMANDS))
    throw new UsageError(`unknown command "${command}"${near ? ` (did you mean ${near}?)` : ''}\n\n${help}`)
  }
  try {
    return await COMMANDS[command].run([...rest, ...global])
  } catch (error) {
    throw unknownOption(error, command)
  }
}

/** Celery worker options celeriac has no flag for, and what does their job here. */
const CELERY_WORKER_OPTIONS: Readonly<Record<string, string>> = {
  '-X': 'name the queues to consume with -Q',
  '--exclude-queues': 'name the queues to consume with -Q',
  '--autoscale': '`celeriac control pool_grow` / `pool_shrink` change a running node\'s threads',
  '--prefetch-multiplier': '--tasks-per-thread (async tasks each thread runs) and --lookahead set what a node holds',
  '-O': 'not needed: a task goes to a thread with a free slot, never behind a busy one',
  '-P': 'tasks run in worker threads (-c threads x --tasks-per-thread)',
  '--pool': 'tasks run in worker threads (-c threads x --tasks-per-thread)',
  '-D': '`celeriac multi start` runs nodes in the background',
  '--detach': '`celeriac multi start` runs nodes in the background',
  '-f': 'use --logfile',
  '--statedb': 'not needed: revocations live in the broker (a NATS KV bucket) and outlast every node',
  '--without-gossip': 'not needed: nodes share nothing but the broker',
  '--without-mingle': 'not needed: nodes share nothing but the broker',
  '--without-heartbeat': 'heartbeats are events, sent only with -E',
  '--heartbeat-interval': 'the worker option heartbeatInterval (app.worker({ heartbeatInterval })) sets it',
  '--purge': 'run `celeriac purge -Q <queues>` first',
  '--discard': 'run `celeriac purge -Q <queues>` first',
  '--uid': 'start it as that user (systemd User=, su, a container USER)',
  '--gid': 'start it as that group (systemd Group=, a container USER)',
}

/** parseArgs' unknown-option error, with the command's option it was probably meant to be. */
function unknownOption(error: unknown, command: string): unknown {
  if ((error as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return error
  const option = /'([^']+)'/.exec((error as Error).message)?.[1]
  if (option === undefined) return error
  const celery = command === 'worker' ? CELERY_WORKER_OPTIONS[option] : undefined
  if (celery !== undefined) return new UsageError(`${command}: ${option} is Celery's, celeriac has no such option: ${celery}`)
  const known = [...new Set(COMMANDS[command].help.match(/--[a-z][a-z-]*/g) ?? [])]
  const near = option.startsWith('--') ? closestKey(option, known) : undefined
  return new UsageError(`${command}: Unknown option '${option}'${near ? ` (did you mean ${near}?)` : ''}; \`celeriac ${command} --help\` lists its options`)
}

// A command whose wait has nothing left to wake it (a result no process will ever store, on a
// client whose timers do not hold the process) must not end as a silent success.
let settled = false
process.once('beforeExit', () => {
  if (settled) return
  console.error('celeriac: the command ended before it finished: nothing left could wake what it was waiting for')
  process.exitCode = 1
})

/** How long a failed command may take to wind down after its error is printed. */
const EXIT_GRACE_MS = 2_000

/**
 * Ends a failed command's process with `code`. It is left to exit by itself, so that what is
 * still being written reaches stdout and stderr, but not forever: a client library can leave a
 * handle open after its error (nats.js keeps the socket of a connect that timed out against
 * something that is not NATS), and the command would then hang after printing that it failed.
 * The timer is unref'd, so it never delays a process that had nothing left to do.
 */
function fail(code: number): void {
  process.exitCode = code
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref()
}

main(process.argv.slice(2)).finally(() => (settled = true)).then(
  (code) => {
    if (code === 0) process.exitCode = 0
    else fail(code)
  },
  (error: Error) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true
    console.error(`celeriac: ${error.message}`)
    fail(usage ? 2 : 1)
  },
)
