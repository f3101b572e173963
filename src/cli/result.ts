import { parseArgs } from 'node:util'
import { CommandFailed, connectionHelp, connectionOptions, openApp, requireShared, seconds, UsageError } from './args.js'
import type { GetOptions } from '../result/async-result.js'
import { alignOptions } from './help.js'

export const resultHelp = alignOptions(`Usage: celeriac result <task id> [options]

Waits for a task's result and prints it as JSON. A failed task prints its error (exit code 1).

Options:
${connectionHelp}
      --traceback    print the remote traceback of a failed task
  -t, --timeout <s>  give up after this many seconds (default: wait)`)

/** `celeriac result`: prints a task's result, or its error. */
export async function result(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...connectionOptions, traceback: { type: 'boolean' }, timeout: { type: 'string', short: 't' } },
  })
  if (values.help) {
    console.log(resultHelp)
    return 0
  }
  if (positionals.length !== 1) throw new UsageError(`result: expected one task id, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  const get: GetOptions = { propagate: false }
  if (values.timeout !== undefined) get.timeout = seconds(values.timeout, '--timeout')
  const app = await openApp(values)
  try {
    requireShared(app, 'result', 'no worker stores results there, so there is nothing to wait for', 'backend')
    // rpc:// results travel on the broker.
    if (/^rpc:/i.test(app.conf.backend)) requireShared(app, 'result', 'rpc:// results travel on the broker, and no worker can send them there')
    const handle = app.asyncResult(positionals[0])
    const value = await handle.get(get)
    if (!(value instanceof Error)) {
      console.log(JSON.stringify(value) ?? String(value))
      return 0
    }
    if (values.traceback) console.log((await handle.traceback()) ?? `${value.name}: ${value.message}`)
    throw new CommandFailed(`task ${positionals[0]} failed: ${value.name}: ${value.message}`)
  } finally {
    await app.close()
  }
}
