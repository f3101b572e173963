import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { BackendError, ConfigError, TransportError } from '../errors.js'
import { censorUrl } from '../config/conf.js'
import { scheme } from '../adapters/url.js'
import { toMs, type Duration } from '../util/duration.js'
import { compileEntries, type BeatEntry } from './entry.js'
import { Lease } from './lease.js'
import { readLastRun, writeLastRun, type LastRunRecord } from './last-run.js'
import { entryKey, fileBeatStore, type BeatStore } from './store.js'
import type { NatsConnection } from '@nats-io/transport-node'
import type { ConfigValues } from '../config/defaults.js'
import type { TaskDefinition } from '../task/definition.js'
import type { CallOptions } from '../canvas/call-options.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import type { Logger } from '../util/logger.js'

/** Options of a {@link Beat}; each defaults to the app's config. */
export interface BeatOptions {
  /** Longest sleep between checks, seconds. @default config.beatMaxInterval */
  maxInterval?: Duration | undefined
  /** Leader lease time, seconds. @default config.beatLeaseTime */
  leaseTime?: Duration | undefined
  /** On `memory://`, the file keeping last runs. @default config.beatScheduleFilename */
  scheduleFilename?: string | undefined
  /** Where the lease and last runs live. @default a KV bucket on a `nats://` broker, the schedule file on `memory://` */
  store?: BeatStore | undefined
  /** Names this beat in the lease and in logs. @default `<host>:<pid>:<random>` */
  id?: string | undefined
  /** @default the app's logger */
  logger?: Logger | undefined
}

/** What a beat needs from its app: a way to send, the schedule's configuration, and time. */
export interface BeatDeps {
  /** The app's name: the NATS store keeps this app's lease and last runs apart from others'. */
  readonly name: string
  readonly conf: Readonly<ConfigValues>
  readonly clock: Clock
  readonly logger: Logger
  /** Registered tasks, against which entries' arguments are checked. */
  readonly tasks: ReadonlyMap<string, TaskDefinition>
  /** Sends a task by name. */
  sendTask(name: string, args: readonly unknown[], options: CallOptions): Promise<unknown>
  /** The app's shared connection to a NATS server (for the store on a `nats://` broker). */
  natsConnection(url: string): Promise<NatsConnection>
}

/** An entry's last run as stored, with the store's revision of it. */
interface LastRun extends LastRunRecord {
  revision: number
}

// After a send that failed for want of the broker, an entry is tried again this much later
// (not at once: the broker may be down for a while), twice as late after each further
// failure, up to SEND_RETRY_MAX_MS.
const SEND_RETRY_MS = 1_000
const SEND_RETRY_MAX_MS = 60_000

// How often an entry's missed runs are logged at most.
const MISSED_LOG_MS = 60_000

/**
 * Celery's beat: sends each entry of the app's schedule when it is due. Any number of beats
 * may run for one app: they elect a leader through a lease, only the leader sends, and a
 * standby takes over when the leader dies.
 *
 * @remarks
 * Each firing is sent with the task id `<entry>:<fire time ISO>`, which the broker dedupes,
 * and each entry's last fire time is written (compare-and-set) after the send, so neither a
 * takeover nor a restart sends a fire time twice. Missed runs (every beat down, or the time a
 * takeover takes) collapse into one firing, at the latest missed fire time, logged with how
 * many were missed, as Celery does with a late entry.
 * @example
 * const beat = app.beat()
 * await beat.start()
 * // ...
 * await beat.stop()
 */
export class Beat {
  /** This beat's name in the lease and in logs. */
  readonly id: string
  readonly #deps: BeatDeps
  readonly #logger: Logger
  readonly #maxIntervalMs: number
  readonly #leaseMs: number
  readonly #scheduleFilename: string
  #store: BeatStore | undefined
  #lease: Lease | undefined
  #entries: BeatEntry[] = []
  /** Last runs read while leading; cleared when leadership is won, so a new leader reads afresh. */
  readonly #lastRuns = new Map<string, LastRun>()
  readonly #retryAt = new Map<string, number>()
  /** When each entry's missed runs were last logged, and how many times since. */
  readonly #missedLogged = new Map<string, { at: number; since: number }>()
  /** Sends (or checks) of an entry that failed in a row, for the backoff. */
  readonly #failures = new Map<string, number>()
  /** The store revision of each entry's unreadable last run already warned about, so a re-read does not warn again. */
  readonly #unreadableWarned = new Map<string, number>()
  #renewAt = 0
  /** Whether the last refresh left this beat leading (the lease itself says whether it still does). */
  #leading = false
  #timer: TimerHandle | undefined
  #running: Promise<void> | undefined
  #started = false

  constructor(deps: BeatDeps, options: BeatOptions = {}) {
    this.#deps = deps
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    this.#logger = options.logger ?? deps.logger
    this.#maxIntervalMs = positiveMs(options.maxInterval ?? deps.conf.beatMaxInterval, options.maxInterval === undefined ? 'config.beatMaxInterval' : 'options.maxInterval')
    this.#leaseMs = positiveMs(options.leaseTime ?? deps.conf.beatLeaseTime, options.leaseTime === undefined ? 'config.beatLeaseTime' : 'options.leaseTime')
    this.#scheduleFilename = options.scheduleFilename ?? deps.conf.beatScheduleFilename
    this.#store = options.store
  }

  /** The entries being scheduled (known once started). */
  get entries(): readonly BeatEntry[] {
    return this.#entries
  }

  /** Whether this beat is the leader, the one that sends. */
  get isLeader(): boolean {
    return this.#lease?.held ?? false
  }

  /**
   * Validates every entry (a bad one throws a {@link ConfigError} naming it, before anything
   * runs), opens the store, runs the first check and keeps checking until {@link Beat.stop}.
   */
  async start(): Promise<void> {
    if (this.#started) return
    const { conf, clock, tasks } = this.#deps
    this.#entries = compileEntries(conf.beatSchedule, { timezone: conf.timezone, now: clock.now(), tasks })
    this.#store ??= await this.#openStore()
    this.#lease = new Lease(this.#store, { holder: this.id, leaseMs: this.#leaseMs, clock })
    this.#started = true
    this.#logger.info(`beat ${this.id} starting`, { broker: censorUrl(conf.broker), entries: this.#entries.map((e) => `${e.name}: ${e.schedule}`), leaseTime: this.#leaseMs / 1000 })
    this.#run()
    await this.#running
  }

  /** Stops checking, waits for a check under way, and gives the lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#leading = false
    this.#deps.clock.clearTimeout(this.#timer)
    await this.#running
    await this.#lease?.release().catch((error: unknown) => this.#logger.warn('beat: could not release the lease', { error }))
  }

  /** Resolves once the check under way (if any) is done: lets tests on a simulated clock wait for it. */
  async idle(): Promise<void> {
    await this.#running
  }

  #run(): void {
    this.#running = this.#tick().then(
      (delay) => this.#schedule(delay),
      (error: unknown) => {
        this.#logger.error('beat: check failed', { error })
        this.#schedule(SEND_RETRY_MS)
      },
    )
  }

  #schedule(delay: number): void {
    if (this.#started) this.#timer = this.#deps.clock.setTimeout(() => this.#run(), delay)
  }

  /** One check: renews or seeks the lease when due, then sends what is due if leading. Resolves to ms until the next check. */
  async #tick(): Promise<number> {
    const { clock } = this.#deps
    const lease = this.#lease!
    if (clock.now() >= this.#renewAt) {
      this.#renewAt = clock.now() + this.#leaseMs / 3
      const held = lease.held
      const leads = await lease.refresh().catch((error: unknown) => {
        this.#logger.warn('beat: cannot reach the lease', { error })
        return lease.held
      })
      // A lease that lapsed, even if won back, may have had another leader meanwhile: read afresh.
      if (leads && !held) this.#lastRuns.clear()
      if (leads && !this.#leading) this.#logger.info(`beat ${this.id} is now the leader`)
      else if (!leads && this.#leading) this.#logger.warn(`beat ${this.id} lost the lead`)
      this.#leading = leads
    }
    let wake = Math.min(this.#renewAt, clock.now() + this.#maxIntervalMs)
    if (lease.held) for (const entry of this.#entries) wake = Math.min(wake, await this.#check(entry).catch((error: unknown) => this.#checkFailed(entry, error)))
    return Math.max(0, wake - clock.now())
  }

  /**
   * An entry whose check threw: a store out of reach fails the whole check (every entry would
   * fail alike, and the lease with them); anything else is this entry's alone, so it is logged
   * naming it and tried again later, 1, 2, 4... up to 60 s, while the other entries run on.
   */
  #checkFailed(entry: BeatEntry, error: unknown): number {
    if (error instanceof TransportError || error instanceof BackendError) throw error
    const failures = (this.#failures.get(entry.name) ?? 0) + 1
    this.#failures.set(entry.name, failures)
    const retryAt = this.#deps.clock.now() + Math.min(SEND_RETRY_MAX_MS, SEND_RETRY_MS * 2 ** (failures - 1))
    this.#logger.error(`beat: could not check entry ${entry.name}; trying again at ${iso(retryAt)}`, { error })
    this.#retryAt.set(entry.name, retryAt)
    return retryAt
  }

  /**
   * Says that `name` missed runs: once a minute at most, counting the times between, as an
   * entry whose interval is shorter than a send would miss runs on every tick.
   */
  #missed(name: string, expected: number, due: number, now: number): void {
    const logged = this.#missedLogged.get(name)
    if (logged !== undefined && now - logged.at < MISSED_LOG_MS) {
      logged.since++
      return
    }
    const also = logged?.since ? ` (and ${logged.since} more times since the last such line)` : ''
    this.#logger.warn(`beat: entry ${name} missed runs from ${iso(expected)}; sending once, for ${iso(due)}${also}`)
    this.#missedLogged.set(name, { at: now, since: 0 })
  }

  /** Sends `entry` if it is due; resolves to when it is next due. */
  async #check(entry: BeatEntry): Promise<number> {
    const now = this.#deps.clock.now()
    const retryAt = this.#retryAt.get(entry.name)
    if (retryAt !== undefined && retryAt > now) return retryAt
    let last = this.#lastRuns.get(entry.name) ?? (await this.#load(entry))
    const due = entry.schedule.due(last.at, now)
    if (due !== undefined && this.#lease!.held) {
      const expected = entry.schedule.next(last.at)
      if (expected < due) this.#missed(entry.name, expected, due, now)
      try {
        await this.#send(entry, due)
      } catch (error) {
        if (error instanceof TransportError || error instanceof BackendError) {
          // The broker or the backend out of reach: this run is sent once they answer (its id
          // is the same, so it is sent once).
          const failures = (this.#failures.get(entry.name) ?? 0) + 1
          this.#failures.set(entry.name, failures)
          const retryAt = now + Math.min(SEND_RETRY_MAX_MS, SEND_RETRY_MS * 2 ** (failures - 1))
          this.#logger.error(`beat: could not send entry ${entry.name}; trying again at ${iso(retryAt)}`, { error })
          this.#retryAt.set(entry.name, retryAt)
          return retryAt
        }
        // What would fail the same way every time (Celery logs it and moves on): this run is skipped.
        this.#logger.error(`beat: could not send entry ${entry.name}; the run for ${iso(due)} is skipped`, { error })
      }
      this.#retryAt.delete(entry.name)
      this.#failures.delete(entry.name)
      last = await this.#record(entry, last, due)
    }
    return entry.schedule.next(last.at)
  }

  /**
   * Reads an entry's last run; an entry never seen before is stored as run now, so that it
   * first fires one period later (Celery's rule). A record that cannot be read (not JSON, not
   * `{ at, count }`) is taken as never run, warned about once, and overwritten at the entry's
   * next run; the other entries are not held up by it.
   */
  async #load(entry: BeatEntry): Promise<LastRun> {
    const store = this.#store!
    const key = entryKey(entry.name)
    for (;;) {
      const stored = await store.get(key)
      if (stored) {
        const reading = readLastRun(stored.value)
        let last: LastRun
        if (reading.type === 'run') last = { ...reading.run, revision: stored.revision }
        else {
          // Its revision is kept, so the next run's compare-and-set replaces it.
          last = { at: this.#deps.clock.now(), count: 0, revision: stored.revision }
          if (this.#unreadableWarned.get(entry.name) !== stored.revision) {
            this.#unreadableWarned.set(entry.name, stored.revision)
            const where = store.describe?.(key) ?? `key "${key}"`
            this.#logger.warn(`beat: entry ${entry.name}'s last run (${where}) cannot be read: ${reading.problem}; taking it as never run, and overwriting it at the next run, ${iso(entry.schedule.next(last.at))}`)
          }
        }
        this.#lastRuns.set(entry.name, last)
        return last
      }
      const first = { at: this.#deps.clock.now(), count: 0 }
      const revision = await store.create(key, writeLastRun(first))
      if (revision !== undefined) {
        this.#lastRuns.set(entry.name, { ...first, revision })
        return { ...first, revision }
      }
    }
  }

  /** Stores a run at `at` unless another beat stored a later one meanwhile; resolves to the last run now stored. */
  async #record(entry: BeatEntry, last: LastRun, at: number): Promise<LastRun> {
    const next = { at, count: last.count + 1 }
    const revision = await this.#store!.update(entryKey(entry.name), writeLastRun(next), last.revision).catch((error: unknown) => {
      // Sent but not recorded: remember it here so this beat does not send it again; the
      // stale revision makes the next write re-read if another beat wrote meanwhile.
      this.#logger.warn(`beat: could not record the run of entry ${entry.name}`, { error })
      return null
    })
    if (revision === null) {
      const sent = { ...next, revision: last.revision }
      this.#lastRuns.set(entry.name, sent)
      return sent
    }
    if (revision !== undefined) {
      const stored = { ...next, revision }
      this.#lastRuns.set(entry.name, stored)
      return stored
    }
    this.#logger.warn(`beat: entry ${entry.name}'s last run was written by another beat meanwhile; reading it again`)
    this.#lastRuns.delete(entry.name)
    return this.#load(entry)
  }

  async #send(entry: BeatEntry, at: number): Promise<void> {
    const taskId = `${entry.name}:${iso(at)}`
    const expires = entry.expiresMs === undefined ? undefined : new Date(at + entry.expiresMs)
    this.#logger.info(`Scheduler: Sending due task ${entry.name} (${entry.task})`, { id: taskId })
    await this.#deps.sendTask(entry.task, entry.args, { ...entry.options, kwargs: entry.kwargs, taskId, ...(expires ? { expires } : {}) })
  }

  async #openStore(): Promise<BeatStore> {
    const broker = this.#deps.conf.broker
    const kind = scheme(broker, 'broker')
    if (kind === 'memory') return fileBeatStore(this.#scheduleFilename)
    if (kind === 'nats' || kind === 'tls') {
      // Loaded on demand: a beat on memory:// never loads the NATS client.
      const { NatsBeatStore } = await import('./nats-store.js')
      const { namespace, natsReplicas } = this.#deps.conf
      return new NatsBeatStore(await this.#deps.natsConnection(broker), this.#deps.name, { namespace, replicas: natsReplicas ?? undefined })
    }
    throw new ConfigError(`beat: no store for the broker ${censorUrl(broker)}; pass options.store`)
  }
}

function positiveMs(value: Duration, field: string): number {
  const ms = toMs(value, field)
  if (ms === 0) throw new ConfigError(`${field} must be a positive duration, got ${JSON.stringify(value)}`)
  return ms
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
