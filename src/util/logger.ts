/** Log levels, lowest first. */
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const
export type LogLevel = keyof typeof LogLevel

/** Where celeriac writes what it does. Inject your own through `createApp({ logger })`. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
  /**
   * Whether lines at `level` are kept. Optional: celeriac asks before it builds a line per task
   * (Celery's "received" and "succeeded" lines at info), and builds it when this is missing.
   */
  isLevelEnabled?(level: Exclude<LogLevel, 'silent'>): boolean
}

/**
 * A logger that adds `fields()` to every line it passes to `logger` (the line's own fields win).
 * `fields` is called per line, so it can read what changes (the active span).
 */
export function withFields(logger: Logger, fields: () => Record<string, unknown> | undefined): Logger {
  const write = (name: Exclude<LogLevel, 'silent'>) => (message: string, own?: Record<string, unknown>) => logger[name](message, { ...fields(), ...own })
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), isLevelEnabled: (level) => isLevelEnabled(logger, level) }
}

/** A logger writing one line per entry to stderr, dropping entries below `level`. */
export function consoleLogger(level: LogLevel = 'warn'): Logger {
  const threshold = LogLevel[level]
  const write = (name: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
    if (LogLevel[name] < threshold) return
    const extra = fields ? ' ' + JSON.stringify(fields, (_, v) => (v instanceof Error ? `${v.name}: ${v.message}` : v)) : ''
    process.stderr.write(`[${new Date().toISOString()}] ${name.toUpperCase()} ${message}${extra}\n`)
  }
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), isLevelEnabled: (name) => LogLevel[name] >= threshold }
}

/** Whether `logger` keeps lines at `level`; a logger that cannot tell keeps them all. */
export function isLevelEnabled(logger: Logger, level: Exclude<LogLevel, 'silent'>): boolean {
  return logger.isLevelEnabled?.(level) ?? true
}
