/** Opaque handle of a scheduled callback. */
export type TimerHandle = unknown

/**
 * Time as celeriac sees it. Injected through options so timers, retries and beat run on
 * simulated time in tests.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/** The longest delay a Node timer takes: a longer one fires at once, with a warning. */
const MAX_TIMER_MS = 2_147_483_647

/**
 * A timer past {@link MAX_TIMER_MS} (24.8 days: a month's countdown, a time limit, a `get`
 * timeout), as a chain of shorter ones. `ref()` as a Node timer's, which `get()` uses.
 */
class LongTimer {
  readonly #at: number
  readonly #fn: () => void
  #timer: NodeJS.Timeout
  #ref = false

  constructor(fn: () => void, ms: number) {
    this.#at = Date.now() + ms
    this.#fn = fn
    this.#timer = this.#arm()
  }

  readonly #next = () => {
    this.#timer = this.#arm()
  }

  #arm(): NodeJS.Timeout {
    const left = this.#at - Date.now()
    const timer = left > MAX_TIMER_MS ? setTimeout(this.#next, MAX_TIMER_MS) : setTimeout(this.#fn, Math.max(0, left))
    return this.#ref ? timer : timer.unref()
  }

  ref(): this {
    this.#ref = true
    this.#timer.ref()
    return this
  }

  clear(): void {
    clearTimeout(this.#timer)
  }
}

/** The real clock. Its timers are unref'd: a pending retry never keeps a process alive by itself. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => (ms > MAX_TIMER_MS ? new LongTimer(fn, ms) : setTimeout(fn, ms).unref()),
  clearTimeout: (handle) => (handle instanceof LongTimer ? handle.clear() : clearTimeout(handle as NodeJS.Timeout)),
}

interface Scheduled {
  id: number
  at: number
  fn: () => void
}

/**
 * A clock that moves only when told to, for tests.
 * @example
 * const clock = new SimulatedClock(Date.UTC(2026, 0, 1))
 * clock.setTimeout(() => fired++, 1000)
 * clock.advance(1000) // fired === 1
 */
export class SimulatedClock implements Clock {
  #now: number
  #nextId = 1
  #timers: Scheduled[] = []

  constructor(start = 0) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn }
    this.#timers.push(timer)
    return timer.id
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle)
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.#now + ms
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0]
      if (!due) break
      this.#timers = this.#timers.filter((t) => t !== due)
      this.#now = Math.max(this.#now, due.at)
      due.fn()
    }
    this.#now = end
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length
  }
}
