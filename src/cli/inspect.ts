import { parseArgs } from 'node:util'
import { DEFAULT_CONTROL_TIMEOUT, type ControlCommandName, type ControlReplies, type WorkerStats } from '../client/control.js'
import { closestKey } from '../util/closest.js'
import { connectionHelp, connectionOptions, list, openApp, positiveSeconds, requireShared, UsageError } from './args.js'
import { printReplies } from './replies.js'
import { alignOptions } from './help.js'

const METHODS = ['active', 'scheduled', 'reserved', 'registered', 'stats', 'revoked', 'conf', 'ping', 'active_queues'] as const satisfies readonly (ControlCommandName | 'active_queues')[]

/** Celery's inspect methods celeriac has no command of that name for: what to use instead. */
const CELERY_NAMES: Readonly<Record<string, string>> = {
  query_task: 'celeriac result <id> prints a task\'s state and result',
  clock: 'celeriac has no logical clock; inspect stats shows each node\'s uptime',
  report: 'inspect stats and inspect conf hold what Celery\'s report shows',
  memdump: 'inspect stats shows each node\'s memory (rssKb)',
  memsample: 'inspect stats shows each node\'s memory (rssKb)',
  objgraph: 'celeriac has no objgraph; inspect stats shows each node\'s memory (rssKb)',
}

/** Options of the commands that address nodes: `inspect`, `control`, `status`. */
export const nodeOptions = {
  destination: { type: 'string', short: 'd' },
  timeout: { type: 'string', short: 't' },
  json: { type: 'boolean', short: 'j' },
} as const

export const nodeHelp = alignOptions(`  -d, --destination <n1,n2>   only these nodes (default: all)
  -t, --timeout <s>           how long to wait for replies (default: ${DEFAULT_CONTROL_TIMEOUT})
  -j, --json                  print the replies as one JSON object, node name to reply`)

export const inspectHelp = alignOptions(`Usage: celeriac inspect <${METHODS.join('|')}> [options]

Asks the worker nodes and prints their replies.

  active         tasks running on a thread
  scheduled      tasks with an eta a node saw early and gave back to the broker
  reserved       tasks received and waiting for a thread or their rate limit
  registered     the tasks each node serves
  stats          process, pool, and tasks done by name
  revoked        revoked task ids
  conf           configuration, credentials censored
  ping           which nodes answer
  active_queues  the queues each node consumes (from stats)

Options:
${connectionHelp}
${nodeHelp}`)

/** The destination and timeout of `inspect`, `control` and `status`. */
export function addressing(values: { destination?: string; timeout?: string }): { destination?: string[]; timeout: number } {
  return {
    ...(values.destination !== undefined ? { destination: list(values.destination) } : {}),
    timeout: values.timeout === undefined ? DEFAULT_CONTROL_TIMEOUT : positiveSeconds(values.timeout, '--timeout'),
  }
}

/** `celeriac inspect`: read-only questions to the nodes. */
export async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...connectionOptions, ...nodeOptions } })
  if (values.help) {
    console.log(inspectHelp)
    return 0
  }
  const method = positionals[0] as (typeof METHODS)[number]
  if (positionals.length !== 1 || !METHODS.includes(method)) {
    const got = positionals.join(' ') || 'nothing'
    // Celery's methods may take arguments (inspect query_task <id>): the hint goes by the name alone.
    const instead = positionals.length >= 1 && Object.hasOwn(CELERY_NAMES, method) ? ` (${CELERY_NAMES[method]})` : ''
    const near = positionals.length >= 1 && !instead ? closestKey(method, METHODS) : undefined
    throw new UsageError(`inspect: expected one of ${METHODS.join(', ')}, got ${got}${instead}${near ? ` (did you mean ${near}?)` : ''}`)
  }
  const options = addressing(values)
  const app = await openApp(values)
  try {
    requireShared(app, 'inspect', 'no node in another process can hear this command or answer it')
    const replies = method === 'active_queues' ? activeQueues(await app.control.inspect(options).stats()) : await app.control.broadcast(method, options)
    printReplies(replies, { json: values.json, bare: method !== 'ping', ...(options.destination ? { destination: options.destination } : {}) })
    return 0
  } finally {
    await app.close()
  }
}

/** Celery's `inspect active_queues`: the queues in each node's stats. */
function activeQueues(stats: ControlReplies<WorkerStats>): ControlReplies<string[]> {
  return Object.fromEntries(Object.entries(stats).map(([host, reply]) => [host, reply.ok === undefined ? { error: reply.error } : { ok: reply.ok.queues }]))
}
