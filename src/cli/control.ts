import { parseArgs } from 'node:util'
import { connectionHelp, connectionOptions, openApp, requireShared, seconds, UsageError } from './args.js'
import { addressing, nodeHelp, nodeOptions } from './inspect.js'
import { printReplies } from './replies.js'
import type { App } from '../app/app.js'
import type { ControlOptions, ControlReplies } from '../client/control.js'
import { alignOptions } from './help.js'
import { parseRateLimit } from '../util/rate-limit.js'
import { closestKey } from '../util/closest.js'
import { toMs } from '../util/duration.js'
import { MAX_POOL_THREADS } from '../worker/remote-control.js'

type Action = (app: App, args: string[], options: ControlOptions & { terminate?: boolean }) => Promise<ControlReplies>

/** A rate limit argument: tasks per second, or '10/m'; a usage error otherwise. */
function rate(value: string): string | number {
  const limit = /^\d+(\.\d+)?$/.test(value) ? Number(value) : value
  try {
    parseRateLimit(limit, 'rate')
  } catch {
    throw new UsageError(`control rate_limit: ${JSON.stringify(value)} is not a rate: give tasks per second (10) or a rate like '10/s', '10/m' or '10/h'`)
  }
  return limit
}

/** The n of pool_grow / pool_shrink: digits only (not 1e9, 0x10 or 1.0), from 1 to what a node accepts; a usage error otherwise. */
function threads(method: string, value: string | undefined): number {
  if (value === undefined) return 1
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN
  if (!(n >= 1 && n <= MAX_POOL_THREADS)) throw new UsageError(`control ${method}: n must be an integer from 1 to ${MAX_POOL_THREADS}, got ${JSON.stringify(value)}`)
  return n
}

/** Celery's control methods celeriac has no command of that name for: what to use instead. */
const CELERY_NAMES: Readonly<Record<string, string>> = {
  autoscale: 'celeriac has no autoscaler: pool_grow and pool_shrink change a node\'s threads',
  terminate: 'revoke <id> --terminate stops a running task',
  revoke_by_stamped_headers: 'celeriac has no stamped headers: revoke takes task ids',
  heartbeat: 'nodes send worker-heartbeat events on their own (celeriac events)',
  election: 'beat needs no election: several beats share a lease and send each run once',
}

/** Each method: its arguments for the help, how many it takes, what it checks before connecting, and what it sends. */
const METHODS: Record<string, { usage: string; min: number; max: number; check?: (args: string[]) => void; run: Action }> = {
  rate_limit: { usage: '<task> <rate>  e.g. tasks.add 10/m', min: 2, max: 2, check: ([, limit]) => void rate(limit), run: (app, [task, limit], o) => app.control.rateLimit(task, rate(limit), o) },
  time_limit: {
    usage: '<task> <soft> [hard]  seconds', min: 2, max: 3,
    run: (app, [task, soft, hard], o) => app.control.timeLimit(task, { soft: seconds(soft, 'soft'), hard: hard === undefined ? null : seconds(hard, 'hard') }, o),
  },
  revoke: { usage: '<id> [id...] [--terminate]', min: 1, max: Infinity, run: (app, ids, o) => app.control.revoke(ids, { ...o, reply: true }) },
  enable_events: { usage: '', min: 0, max: 0, run: (app, _, o) => app.control.enableEvents(o) },
  disable_events: { usage: '', min: 0, max: 0, run: (app, _, o) => app.control.disableEvents(o) },
  add_consumer: { usage: '<queue>', min: 1, max: 1, run: (app, [queue], o) => app.control.addConsumer(queue, o) },
  cancel_consumer: { usage: '<queue>', min: 1, max: 1, run: (app, [queue], o) => app.control.cancelConsumer(queue, o) },
  pool_grow: { usage: '[n]', min: 0, max: 1, check: ([n]) => void threads('pool_grow', n), run: (app, [n], o) => app.control.poolGrow(threads('pool_grow', n), o) },
  pool_shrink: { usage: '[n]', min: 0, max: 1, check: ([n]) => void threads('pool_shrink', n), run: (app, [n], o) => app.control.poolShrink(threads('pool_shrink', n), o) },
  shutdown: { usage: '', min: 0, max: 0, run: (app, _, o) => app.control.shutdown(o) },
}

export const controlHelp = alignOptions(`Usage: celeriac control <method> [arguments] [options]

Changes the worker nodes at run time and prints their replies.

${Object.entries(METHODS).map(([name, m]) => `  ${name.padEnd(16)}${m.usage}`).join('\n')}

Options:
${connectionHelp}
${nodeHelp}
      --terminate             (revoke) terminate the thread running the task`)

/** `celeriac control`: commands that change the nodes. */
export async function control(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...connectionOptions, ...nodeOptions, terminate: { type: 'boolean' } } })
  if (values.help) {
    console.log(controlHelp)
    return 0
  }
  const [name, ...args] = positionals
  const method = name === undefined ? undefined : METHODS[name]
  if (!method || !Object.hasOwn(METHODS, name)) {
    const instead = name !== undefined && Object.hasOwn(CELERY_NAMES, name) ? ` (${CELERY_NAMES[name]})` : ''
    const near = name === undefined || instead ? undefined : closestKey(name, Object.keys(METHODS))
    throw new UsageError(`control: expected one of ${Object.keys(METHODS).join(', ')}, got ${name ?? 'nothing'}${instead}${near ? ` (did you mean ${near}?)` : ''}`)
  }
  if (args.length < method.min || args.length > method.max) throw new UsageError(`control ${name}: expected ${method.usage || 'no arguments'}, got ${args.length === 0 ? 'none' : args.join(' ')}`)
  if (values.terminate && name !== 'revoke') throw new UsageError('--terminate goes with control revoke only')
  method.check?.(args)
  const options = { ...addressing(values), terminate: values.terminate }
  const app = await openApp(values)
  try {
    requireShared(app, 'control', 'no node in another process can hear this command or answer it')
    // A revoke is stored in the broker before it is broadcast: nodes that start later skip the
    // task too, so no node online to answer is not a failure (Celery's revoke is lost then).
    const nobody = name === 'revoke' ? `no node online replied; the revoke is stored: a node that receives ${args.length === 1 ? 'this task' : 'these tasks'} within workerRevokeExpires (${toMs(app.conf.workerRevokeExpires, 'workerRevokeExpires') / 1000} s) discards ${args.length === 1 ? 'it' : 'them'}` : undefined
    printReplies(await method.run(app, args, options), { json: values.json, nobody, ...(options.destination ? { destination: options.destination } : {}) })
    return 0
  } finally {
    await app.close()
  }
}
