import { pino, stdSerializers, type DestinationStream } from 'pino'
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { UsageError } from './args.js'
import type { Logger, LogLevel } from '../util/logger.js'

/** Celery's `-l` names (any case) and the level each one means here. */
const LEVELS: Readonly<Record<string, Exclude<LogLevel, 'silent'>>> = {
  debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error', critical: 'error', fatal: 'error',
}

/** Reads `-l/--loglevel`; a name it does not know is a usage error. */
export function parseLogLevel(text: string): Exclude<LogLevel, 'silent'> {
  const level = LEVELS[text.toLowerCase()]
  if (!level) throw new UsageError(`--loglevel must be one of debug, info, warning, error, critical, got ${JSON.stringify(text)}`)
  return level
}

/** How the CLI writes log lines: one JSON object a line (pino's), or readable lines. */
export type LogFormat = 'json' | 'pretty'

/** Reads `--log-format`; anything but `json` or `pretty` is a usage error. */
export function parseLogFormat(text: string): LogFormat {
  if (text === 'json' || text === 'pretty') return text
  throw new UsageError(`--log-format must be json or pretty, got ${JSON.stringify(text)}`)
}

/**
 * The CLI's logger: pino, writing JSON lines to `logfile` (appending) or to stderr, or
 * readable lines (`[time] LEVEL message key=value`); `format` chooses, and defaults to
 * readable lines when they go to a terminal. It is the one logger of a CLI process: the app,
 * its connections (a transport's warnings) and its worker threads (their lines come to the
 * node) all write through it, so `-l` and `--log-format` hold for every line. The library
 * itself logs through the small {@link Logger} interface, so apps that embed celeriac never
 * load pino unless they run the CLI.
 */
export function cliLogger(options: { level: LogLevel; logfile?: string; format?: LogFormat }): Logger {
  const pretty = options.format === undefined ? options.logfile === undefined && process.stderr.isTTY === true : options.format === 'pretty'
  const destination: DestinationStream = options.logfile !== undefined
    ? pino.destination({ dest: openable(options.logfile, '--logfile'), append: true, sync: true })
    : pretty ? prettyStream(process.stderr) : pino.destination({ dest: 2, sync: true })
  const log = pino({
    level: options.level,
    base: { pid: process.pid },
    formatters: { level: (label) => ({ level: label }) },
    serializers: { error: stdSerializers.err },
  }, destination)
  return {
    debug: (message, fields) => log.debug(fields ?? {}, message),
    info: (message, fields) => log.info(fields ?? {}, message),
    warn: (message, fields) => log.warn(fields ?? {}, message),
    error: (message, fields) => log.error(fields ?? {}, message),
    isLevelEnabled: (level) => log.isLevelEnabled(level),
  }
}

/** Formats pino's JSON lines for a person; colours the level only on a terminal. */
function prettyStream(out: NodeJS.WriteStream): DestinationStream {
  const colors: Record<string, string> = out.isTTY === true ? { debug: '\x1b[90m', info: '\x1b[32m', warn: '\x1b[33m', error: '\x1b[31m' } : {}
  const reset = out.isTTY === true ? '\x1b[0m' : ''
  return {
    write(line: string) {
      const { time, level, msg, pid: _pid, ...fields } = JSON.parse(line) as Record<string, unknown>
      const extra = Object.entries(fields).map(([key, value]) => ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join('')
      out.write(`[${new Date(time as number).toISOString()}] ${colors[level as string] ?? ''}${String(level).toUpperCase()}${reset} ${msg}${extra}\n`)
    },
  }
}

/**
 * `path`, once its folder is made and the file can be opened to append: a usage error naming
 * `flag` otherwise. pino's own `mkdir` retried a folder it could not make for ever, and the
 * worker hung at full CPU without a word.
 */
export function openable(path: string, flag: string): string {
  try {
    makeDirs(dirname(path))
    closeSync(openSync(path, 'a'))
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException
    throw new UsageError(`cannot open ${flag} ${path}: ${code ?? message}${code === 'EACCES' ? ' (no permission to write there)' : ''}`)
  }
  return path
}

/**
 * Makes `dir` and the folders above it that are missing, one by one. Node's own recursive
 * mkdirSync never returns where the parent refuses a folder with ENOENT (under /proc).
 */
export function makeDirs(dir: string): void {
  if (existsSync(dir)) return
  const parent = dirname(dir)
  if (parent !== dir) makeDirs(parent)
  mkdirSync(dir)
}
