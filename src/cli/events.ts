import { parseArgs } from 'node:util'
import { connectionHelp, connectionOptions, openApp, requireShared, UsageError } from './args.js'
import { checkEventPattern, type CeleriacEvent } from '../events/events.js'
import { alignOptions } from './help.js'
import { watchParent } from './parent-watch.js'

export const eventsHelp = alignOptions(`Usage: celeriac events --dump [options]

Prints cluster events as they happen, one per line, until TERM or INT. Task events come from
nodes started with -E (or after \`celeriac control enable_events\`); worker events always do.

Options:
${connectionHelp}
      --dump             print events (the only mode: there is no curses monitor)
  -p, --pattern <p>      which events: task-*, worker-*, task-failed, * (default: *)
  -j, --json             one JSON object per line`)

/** Refuses, as a usage error, an event pattern no event can match (`task-faild`). */
function checkPattern(pattern: string): void {
  try {
    checkEventPattern(pattern, `-p ${pattern}`)
  } catch (error) {
    throw new UsageError(`events: ${(error as Error).message}`)
  }
}

/** `celeriac events --dump`: streams events to stdout. */
export async function events(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...connectionOptions, dump: { type: 'boolean' }, pattern: { type: 'string', short: 'p' }, json: { type: 'boolean', short: 'j' } } })
  if (values.help) {
    console.log(eventsHelp)
    return 0
  }
  if (values.pattern !== undefined) checkPattern(values.pattern)
  const app = await openApp(values)
  try {
    requireShared(app, 'events', 'no node in another process can send events to it')
  } catch (error) {
    await app.close()
    throw error
  }
  const stream = app.events.subscribe(values.pattern ?? '*')
  await stream.ready
  console.error(`-> celeriac events: dumping ${values.pattern ?? 'all'} events (Ctrl+C to stop)`)
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stream.close())
  // Under npx, `kill` of npm's pid does not reach this process; its parent's exit does (see parent-watch.ts).
  const unwatch = watchParent((ppid) => {
    console.error(`-> celeriac events: parent process ${ppid} exited (npm does not pass its signals on): stopping`)
    stream.close()
  })
  for await (const event of stream) console.log(values.json ? JSON.stringify(event) : formatEvent(event))
  unwatch()
  await app.close()
  return 0
}

/**
 * `<time> <node> <type> key=value ...`, as Celery's dumper shows it: one line per event, so a
 * string with a line break (a traceback) is shown quoted, and an eta as a time.
 */
export function formatEvent(event: CeleriacEvent): string {
  const { type, hostname, timestamp, ...fields } = event
  const shown = (key: string, value: unknown) =>
    key === 'eta' && typeof value === 'number' ? new Date(value).toISOString() : typeof value === 'string' && !/[\r\n]/.test(value) ? value : JSON.stringify(value)
  const rest = Object.entries(fields).map(([key, value]) => `${key}=${shown(key, value)}`).join(' ')
  return `${new Date(timestamp).toISOString()} ${hostname} ${type}${rest ? ' ' + rest : ''}`
}
