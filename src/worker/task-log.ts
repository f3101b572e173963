import { inspect } from 'node:util'
import { codecFor, ContentType } from '../serialization/codec.js'
import { isLevelEnabled, type Logger } from '../util/logger.js'
import type { WireError } from '../serialization/failure.js'
import type { InFlight } from './in-flight.js'

/** Celery's `resultrepr_maxsize`: a result longer than this is cut in its "succeeded" line. */
const RESULT_REPR_MAX = 1024

/**
 * A worker's line per task, as Celery's: "received" and "succeeded" (with the result), a
 * retry, an ignore and a discarded revoked task at info, a reject at warning, "raised" at error
 * with its traceback. A worker logs at warning unless told otherwise (`-l info`), as Celery's
 * does, and the info lines are not even built then: at tens of thousands of tasks a second,
 * decoding each result for a line nobody reads would show.
 */
export class TaskLog {
  readonly #logger: Logger
  readonly #about: (item: InFlight) => Record<string, unknown>

  /** @param about the fields of a line about a task (its id and name, its trace when traced) */
  constructor(logger: Logger, about: (item: InFlight) => Record<string, unknown>) {
    this.#logger = logger
    this.#about = about
  }

  received(item: InFlight): void {
    if (isLevelEnabled(this.#logger, 'info')) this.#logger.info(`task ${named(item)} received`, this.#about(item))
  }

  succeeded(item: InFlight, runtimeMs: number, result: Uint8Array | undefined, contentType: ContentType | undefined): void {
    if (!isLevelEnabled(this.#logger, 'info')) return
    this.#logger.info(`task ${named(item)} succeeded in ${seconds(runtimeMs)}: ${resultRepr(result, contentType)}`, this.#about(item))
  }

  /** A retry, with its cause when the task gave one (Celery's "Retry in 5s: exc"). */
  retry(item: InFlight, delayMs: number, error: WireError | undefined): void {
    if (!isLevelEnabled(this.#logger, 'info')) return
    this.#logger.info(`task ${named(item)} retry in ${seconds(delayMs)}${error ? `: ${described(error)}` : ''}`, this.#about(item))
  }

  /**
   * Celery's "Discarding revoked task": it was revoked (or had expired) before it ran here; or,
   * `terminated`, stopped as it ran.
   */
  revoked(item: InFlight, reason: string, terminated: boolean): void {
    if (isLevelEnabled(this.#logger, 'info')) this.#logger.info(`task ${named(item)} ${terminated ? 'stopped' : 'discarded'}: ${reason}`, this.#about(item))
  }

  /** The task raised Reject: `fate` says what became of it (requeued, or dead-lettered and why). A warning, as Celery's. */
  rejected(item: InFlight, error: WireError | undefined, fate: string): void {
    this.#logger.warn(`task ${named(item)} rejected${error?.message ? `: ${error.message}` : ''} (${fate})`, this.#about(item))
  }

  /** The task raised Ignore: nothing is recorded for it. */
  ignored(item: InFlight): void {
    if (isLevelEnabled(this.#logger, 'info')) this.#logger.info(`task ${named(item)} ignored`, this.#about(item))
  }

  /** Celery's "Task t[id] raised unexpected: ...": one error line per failed task, with its traceback. */
  raised(item: InFlight, error: WireError | undefined, runtimeMs: number | undefined): void {
    const took = runtimeMs === undefined ? '' : ` after ${seconds(runtimeMs)}`
    this.#logger.error(`task ${named(item)} raised ${described(error)}${took}`, { ...this.#about(item), ...(error?.stack ? { traceback: error.stack } : {}) })
  }
}

const named = (item: InFlight) => `${item.headers.task}[${item.headers.id}]`
const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`
const described = (error: WireError | undefined) => (error ? `${error.type}: ${error.message}` : 'an unknown error')

/** The result as `util.inspect` shows it, cut at RESULT_REPR_MAX characters. */
function resultRepr(bytes: Uint8Array | undefined, contentType: ContentType | undefined): string {
  let value: unknown
  try {
    value = bytes === undefined ? undefined : codecFor(contentType ?? ContentType.Msgpack).decode(bytes)
  } catch {
    return `<${bytes!.byteLength} bytes that do not decode>`
  }
  const repr = inspect(value, { depth: 3, breakLength: Infinity, maxArrayLength: 50, maxStringLength: RESULT_REPR_MAX })
  return repr.length > RESULT_REPR_MAX ? `${repr.slice(0, RESULT_REPR_MAX)}...` : repr
}
