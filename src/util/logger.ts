/** Log levels, lowest first. */
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const
export type LogLevel = keyof typeof LogLevel

/** Where celeriac writes what it does. Inject your own through `createApp({ logger })`. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

/**
 * A logger that adds `fields()` to every line it passes to `logger` (the line's own fields win).
 * `fields` is called per line, so it can read what changes (the active span).
 */
export function withFields(logger: Logger, fields: () => Record<string, unknown> | undefined): Logger {
  const write = (name: Exclude<LogLevel, 'silent'>) => (message: string, own?: Record<string, unknown>) => logger[name](message, { ...fields(), ...own })
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
}

/** A logger writing one line per entry to stderr, dropping entries below `level`. */
export function consoleLogger(level: LogLevel = 'warn'): Logger {
  const threshold = LogLevel[level]
  const write = (name: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
    if (LogLevel[name] < threshold) return
    const extra = fields ? ' ' + JSON.stringify(fields, (_, v) => (v instanceof Error ? `${v.name}: ${v.message}` : v)) : ''
    process.stderr.write(`[${new Date().toISOString()}] ${name.toUpperCase()} ${message}${extra}\n`)
  }
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
}
