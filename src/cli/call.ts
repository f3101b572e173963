import { parseArgs } from 'node:util'
import { connectionHelp, connectionOptions, json, openApp, requireShared, seconds, UsageError } from './args.js'
import type { CallOptions } from '../canvas/call-options.js'
import { alignOptions } from './help.js'

export const callHelp = alignOptions(`Usage: celeriac call <task> [options]

Sends a task by name and prints its id.

Options:
${connectionHelp}
  -a, --args <json>           positional arguments, a JSON array (default: [])
  -k, --kwargs <json>         keyword arguments, a JSON object
      --queue <name>          queue to send to
      --exchange <name>       exchange to send to
      --routing-key <key>     routing key
      --countdown <s>         run no earlier than this many seconds from now
      --eta <iso time>        run no earlier than this time
      --expires <s>           revoke if not started within this many seconds`)

/** `celeriac call`: sends a task by name. */
export async function call(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...connectionOptions,
      args: { type: 'string', short: 'a' },
      kwargs: { type: 'string', short: 'k' },
      queue: { type: 'string' },
      exchange: { type: 'string' },
      'routing-key': { type: 'string' },
      countdown: { type: 'string' },
      eta: { type: 'string' },
      expires: { type: 'string' },
    },
  })
  if (values.help) {
    console.log(callHelp)
    return 0
  }
  if (positionals.length !== 1) throw new UsageError(`call: expected one task name, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  const args = values.args === undefined ? [] : json(values.args, '--args', Array.isArray, 'an array')
  const options: CallOptions = {}
  if (values.kwargs !== undefined) options.kwargs = json(values.kwargs, '--kwargs', isObject, 'an object')
  for (const flag of ['queue', 'exchange', 'routing-key'] as const) {
    if (values[flag] === '') throw new UsageError(`--${flag} must name one, got an empty string`)
  }
  if (values.queue !== undefined) options.queue = values.queue
  if (values.exchange !== undefined) options.exchange = values.exchange
  if (values['routing-key'] !== undefined) options.routingKey = values['routing-key']
  if (values.countdown !== undefined) options.countdown = seconds(values.countdown, '--countdown')
  if (values.expires !== undefined) options.expires = seconds(values.expires, '--expires')
  if (values.eta !== undefined) {
    const eta = new Date(values.eta)
    if (Number.isNaN(eta.getTime())) throw new UsageError(`--eta must be an ISO 8601 time, got ${JSON.stringify(values.eta)}`)
    options.eta = eta
  }
  const app = await openApp(values)
  try {
    requireShared(app, 'call', 'no worker elsewhere would ever see the task, and it would be lost when this command exits')
    const result = await app.sendTask(positionals[0], args, options)
    console.log(result.id)
    return 0
  } finally {
    await app.close()
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
