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

/** The real clock. Its timers are unref'd: a pending retry never keeps a process alive by itself. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
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
