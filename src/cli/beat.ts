import { parseArgs } from 'node:util'
import { censorUrl } from '../config/conf.js'
import { cliLogger, parseLogLevel } from './cli-logger.js'
import { connectionHelp, connectionOptions, openApp, seconds, UsageError } from './args.js'
import { watchParent } from './parent-watch.js'
import type { BeatOptions } from '../beat/beat.js'
import { alignOptions } from './help.js'

export const beatHelp = alignOptions(`Usage: celeriac beat -A <module> [options]

Sends the periodic tasks of the app found in <module> (config.beatSchedule) when they are due.
Several beats may run at once: one leads and sends, the others stand by and take over when it
dies.

Options:
${connectionHelp}
  -l, --loglevel <level>      debug, info, warning, error, critical (default: warning)
      --logfile <file>        append JSON log lines here instead of stderr
      --max-interval <s>      longest sleep between checks, seconds (default: config.beatMaxInterval)
  -s, --schedule <file>       on memory://, the file keeping last runs (default: config.beatScheduleFilename)

TERM or INT: stop, handing the lead to a standby beat at once.`)

/** `celeriac beat`: runs a beat until TERM/INT. */
export async function beat(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...connectionOptions,
      loglevel: { type: 'string', short: 'l' },
      logfile: { type: 'string' },
      'max-interval': { type: 'string' },
      schedule: { type: 'string', short: 's' },
    },
    strict: true,
  })
  if (values.help) {
    console.log(beatHelp)
    return 0
  }
  if (!values.app) throw new UsageError('beat: -A/--app <module> is required')
  const level = parseLogLevel(values.loglevel ?? 'warning')
  const options: BeatOptions = {}
  if (values['max-interval'] !== undefined) {
    const interval = seconds(values['max-interval'], '--max-interval')
    if (!(interval > 0)) throw new UsageError(`--max-interval must be a positive number of seconds, got ${JSON.stringify(values['max-interval'])}`)
    options.maxInterval = interval
  }
  if (values.schedule !== undefined) options.scheduleFilename = values.schedule
  // Configured as every other command: the app module, then CELERIAC_*, then -b.
  const app = await openApp(values)
  app.useLogger(cliLogger({ level, logfile: values.logfile }))
  const scheduler = app.beat(options)
  await scheduler.start()
  console.log(banner(app.name, scheduler.id, censorUrl(app.conf.broker), scheduler.entries.map((e) => `${e.name}: ${e.task} ${e.schedule}`)))
  if (/^memory:/i.test(app.conf.broker)) app.logger.warn(`the broker is ${app.conf.broker}, which lives in this process: no worker elsewhere gets these tasks (use worker -B, or a shared broker with -b or CELERIAC_BROKER_URL)`)
  // The clock's timers are unref'd: this keeps the process alive until a signal stops it.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      console.log(`\n${signal}: stopping beat`)
      clearInterval(keepAlive)
      scheduler.stop().then(() => app.close()).then(() => resolve(0), (error) => {
        console.error(error)
        resolve(1)
      })
    }
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop(signal))
    // Under npx, npm's exit is the TERM that never arrives (see parent-watch.ts).
    watchParent((ppid) => stop(`parent process ${ppid} exited`))
  })
}

function banner(app: string, id: string, broker: string, entries: string[]): string {
  return [`beat ${id} ready.`, `- app:       ${app}`, `- transport: ${broker}`, '', '[schedule]', ...entries.map((entry) => `  . ${entry}`)].join('\n')
}
