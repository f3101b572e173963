import { parseArgs } from 'node:util'
import { censorUrl } from '../config/conf.js'
import { consoleLogger, LogLevel } from '../util/logger.js'
import { loadApp } from './load-app.js'
import { UsageError } from './args.js'
import type { BeatOptions } from '../beat/beat.js'

export const beatHelp = `Usage: celeriac beat -A <module> [options]

Sends the periodic tasks of the app found in <module> (config.beatSchedule) when they are due.
Several beats may run at once: one leads and sends, the others stand by and take over when it
dies.

Options:
  -A, --app <module>          module (.ts, .js or package) exporting the app
  -l, --loglevel <level>      debug, info, warn or error (default: warn)
      --max-interval <s>      longest sleep between checks, seconds (default: config.beatMaxInterval)
  -s, --schedule <file>       on memory://, the file keeping last runs (default: config.beatScheduleFilename)
  -h, --help                  show this help

TERM or INT: stop, handing the lead to a standby beat at once.`

/** `celeriac beat`: runs a beat until TERM/INT. */
export async function beat(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      app: { type: 'string', short: 'A' },
      loglevel: { type: 'string', short: 'l' },
      'max-interval': { type: 'string' },
      schedule: { type: 'string', short: 's' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    console.log(beatHelp)
    return 0
  }
  if (!values.app) throw new UsageError('beat: -A/--app <module> is required')
  const level = (values.loglevel ?? 'warn').toLowerCase()
  if (!Object.hasOwn(LogLevel, level)) throw new UsageError(`--loglevel must be one of ${Object.keys(LogLevel).join(', ')}, got ${JSON.stringify(values.loglevel)}`)
  const options: BeatOptions = { logger: consoleLogger(level as LogLevel) }
  if (values['max-interval'] !== undefined) {
    const seconds = Number(values['max-interval'])
    if (!(seconds > 0)) throw new UsageError(`--max-interval must be a positive number of seconds, got ${JSON.stringify(values['max-interval'])}`)
    options.maxInterval = seconds
  }
  if (values.schedule !== undefined) options.scheduleFilename = values.schedule
  const app = await loadApp(values.app)
  const scheduler = app.beat(options)
  await scheduler.start()
  console.log(banner(app.name, scheduler.id, censorUrl(app.conf.broker), scheduler.entries.map((e) => `${e.name}: ${e.task} ${e.schedule}`)))
  if (/^memory:/i.test(app.conf.broker)) console.warn('beat: the broker is memory://, which lives in this process: no worker elsewhere gets these tasks (use worker -B, or a nats:// broker)')
  // The clock's timers are unref'd: this keeps the process alive until a signal stops it.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      console.log(`\n${signal}: stopping beat`)
      clearInterval(keepAlive)
      scheduler.stop().then(() => app.close()).then(() => resolve(0), (error) => {
        console.error(error)
        resolve(1)
      })
    }
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop(signal))
  })
}

function banner(app: string, id: string, broker: string, entries: string[]): string {
  return [`beat ${id} ready.`, `- app:       ${app}`, `- transport: ${broker}`, '', '[schedule]', ...entries.map((entry) => `  . ${entry}`)].join('\n')
}
