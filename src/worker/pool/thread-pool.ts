import { TimeLimitExceeded, WorkerLostError } from '../../errors.js'
import { ThreadHandle, type ThreadSpec } from './thread-handle.js'
import type { InFlight } from '../in-flight.js'
import { readOutcomes, type Outcome, type RunEntry } from '../../protocol/thread-batch.js'
import { HELD_CHECK_MS, type ThreadToMain } from '../../protocol/thread-messages.js'
import type { Logger } from '../../util/logger.js'
import type { ThreadReplaceReason } from '../worker-observer.js'

/** What the pool reports to its node. */
export interface PoolEvents {
  started(item: InFlight): void
  update(item: InFlight, state: string, meta: Uint8Array | undefined, contentType: string | undefined): void
  outcome(item: InFlight, outcome: Outcome): void
  /**
   * The thread running `item` died, or let go of it. `started` tells whether the task had
   * begun; `runtimeMs` is how long it had run, when its thread had started it.
   */
  lost(item: InFlight, error: Error, started: boolean, runtimeMs: number | undefined): void
  /** Slots became free (tasks ended, or a thread came up). */
  capacity(): void
  /** A thread is being replaced, and why. */
  replaced?(reason: ThreadReplaceReason): void
  /** A task has held its thread for `ms` (see ThreadHandle.longHold); `holder` when known. */
  held?(threadId: number, ms: number, holder: InFlight | undefined): void
}

/** Options of a {@link ThreadPool}. */
export interface PoolOptions extends Omit<ThreadSpec, 'capacity' | 'reportHeap'> {
  size: number
  /** Tasks given to one thread at a time. */
  perThread: number
  maxTasksPerChild: number | null
  maxMemoryPerChildKb: number | null
  logger: Logger
  events: PoolEvents
}

/**
 * The worker threads of one node. Hands tasks to the thread with the most free slots, and
 * replaces threads that die, exceed a time limit, or are due for recycling. The pool, never
 * the dying thread, reports what happened to the tasks it held.
 */
export class ThreadPool {
  readonly #options: PoolOptions
  readonly #threads = new Set<ThreadHandle>()
  #size: number
  #stopping = false
  #watch: ReturnType<typeof setInterval> | undefined

  constructor(options: PoolOptions) {
    this.#options = options
    this.#size = options.size
  }

  async start(): Promise<void> {
    const threads = Array.from({ length: this.#size }, () => this.#spawn())
    await Promise.all(threads.map((thread) => thread.ready()))
    this.#watch = setInterval(this.#lookAtBeats, HELD_CHECK_MS).unref()
  }

  /**
   * Marks the threads a task holds (see ThreadHandle.held), from a timer rather than per task:
   * the hot path reads a flag, and the free count and the choice of thread read the same one.
   * A thread let go frees its slots for the node again.
   */
  #lookAtBeats = (): void => {
    const now = Date.now()
    let freed = false
    for (const thread of this.#threads) {
      if (thread.lookAt(now) && !thread.held) freed = true
      if (thread.reclaim()) freed = true
      if (thread.stuck(now)) void thread.terminate()
    }
    for (const thread of this.#threads) {
      if (!thread.held) continue
      // What it has not started goes to threads that can start it now, as far as they have room.
      for (const [item, entry] of thread.withdraw(this.free)) {
        try {
          this.dispatch(item, entry)
        } catch (error) {
          // On no thread now, and never started: the node runs it again or gives it back.
          this.#options.events.lost(item, error instanceof Error ? error : new Error(String(error)), false, undefined)
        }
      }
      const hold = thread.longHold(now)
      if (hold) this.#options.events.held?.(thread.threadId, hold.ms, hold.holder)
    }
    if (freed) this.#options.events.capacity()
  }

  /** Threads, for inspection. */
  get threads(): readonly ThreadHandle[] {
    return [...this.#threads]
  }

  get size(): number {
    return this.#size
  }

  /** Slots that can take a task now: a held thread's are not counted (see ThreadHandle.held). */
  get free(): number {
    let free = 0
    for (const thread of this.#threads) if (thread.open && !thread.held) free += thread.free
    return free
  }

  /** Threads whose event loop a task holds. */
  get held(): number {
    let held = 0
    for (const thread of this.#threads) if (thread.held) held++
    return held
  }

  /** Tasks on threads now. */
  get busy(): number {
    let busy = 0
    for (const thread of this.#threads) busy += thread.busy
    return busy
  }

  /**
   * Gives a task to the least busy thread that no task holds; to a held one only when no other
   * has a free slot (then it starts once the holder lets go). Callers look at {@link free}
   * first; a call with no slot free is a bug and throws, so that no task is dropped unseen.
   */
  dispatch(item: InFlight, entry: RunEntry): void {
    let best: ThreadHandle | undefined
    let idle = true
    for (const thread of this.#threads) {
      if (thread.busy > 0) idle = false
      if (!thread.open || thread.free === 0) continue
      if (!best || (best.held && !thread.held) || (best.held === thread.held && thread.free > best.free)) best = thread
    }
    if (!best) throw new Error(`no free slot on any thread for task ${item.headers.task}[${item.headers.id}]`)
    // The only task on the node goes to its thread at once. Batched at the end of the turn, it
    // would wait behind the socket writes of its ack and RECEIVED (one ~70 us write on a 2-core
    // VM, measured with per-stage timestamps of 1,500 round trips); a lone task has nothing to
    // batch with, while under load the batch gathers a whole socket read (24 tasks a message).
    best.dispatch(item, entry, idle)
    const max = this.#options.maxTasksPerChild
    if (max !== null && best.dispatched >= max) this.#retire(best)
  }

  /** Takes `item` back from its thread if the thread has not started it; true when it did. */
  takeBack(item: InFlight): boolean {
    const thread = this.#byId(item.threadId)
    return thread !== undefined && thread.items[item.slot] === item && thread.takeBack(item.slot)
  }

  /** When the task in `item` started (epoch ms), or 0 if it is still waiting on its thread. */
  startedAt(item: InFlight): number {
    const thread = this.#byId(item.threadId)
    return thread && thread.items[item.slot] === item ? thread.startedAt[item.slot] : 0
  }

  /**
   * Stops `item` (its hard time limit, or revoked with terminate), reported lost with
   * `reason(terminated)`. A thread whose event loop runs lets go of it and of nothing else: it
   * takes no new task and is replaced, its other tasks end as they would have, and then it is
   * terminated, with whatever is left of `item`'s code (see ThreadHandle.stuck for an item
   * that starts to hold the loop meanwhile). A thread that a task holds (most often `item`
   * itself, in a CPU-bound loop) can only be terminated now, and its other tasks are lost
   * with it.
   */
  kill(item: InFlight, reason: (terminated: boolean) => Error): void {
    const thread = this.#byId(item.threadId)
    if (!thread || thread.items[item.slot] !== item) return
    const terminated = thread.held || thread.busy === 1
    const error = reason(terminated)
    item.killedFor = error
    if (terminated) return void thread.terminate()
    const runtimeMs = ranFor(thread.startedAt[item.slot])
    thread.abandon(item.slot)
    this.#retire(thread, true, error instanceof TimeLimitExceeded ? 'time_limit' : 'terminated')
    this.#options.events.lost(item, error, true, runtimeMs)
  }

  /** Adds threads. */
  async grow(n: number): Promise<void> {
    this.#size += n
    await Promise.all(Array.from({ length: n }, () => this.#spawn().ready()))
  }

  /** Removes threads once their tasks are done. */
  shrink(n: number): void {
    const count = Math.min(n, this.#size - 1)
    this.#size -= count
    const live = [...this.#threads].filter((t) => !t.retiring).sort((a, b) => a.busy - b.busy)
    live.slice(0, count).forEach((thread) => this.#retire(thread, false))
  }

  /** Terminates every thread at once; tasks still on them are reported lost. */
  async stop(): Promise<void> {
    this.#stopping = true
    clearInterval(this.#watch)
    await Promise.all([...this.#threads].map((thread) => thread.terminate()))
  }

  #byId(threadId: number | undefined): ThreadHandle | undefined {
    for (const thread of this.#threads) if (thread.threadId === threadId) return thread
    return undefined
  }

  #spawn(): ThreadHandle {
    const { size: _size, perThread, maxTasksPerChild: _m, maxMemoryPerChildKb, logger: _l, events: _e, ...spec } = this.#options
    const thread = new ThreadHandle({ ...spec, capacity: perThread, reportHeap: maxMemoryPerChildKb !== null }, { message: this.#message, exit: this.#exit })
    this.#threads.add(thread)
    thread.ready().then(
      () => this.#options.events.capacity(),
      (error) => this.#options.logger.error('worker thread failed to start', { error }),
    )
    return thread
  }

  /** Stops giving work to a thread; it is replaced (when `replace`) and terminated once idle. */
  #retire(thread: ThreadHandle, replace = true, reason: ThreadReplaceReason = 'recycle'): void {
    if (thread.retiring) return
    thread.retiring = true
    if (replace && !this.#stopping) {
      this.#options.events.replaced?.(reason)
      this.#spawn()
    }
    if (thread.busy === 0) void thread.terminate()
  }

  #message = (thread: ThreadHandle, message: ThreadToMain): void => {
    const { events } = this.#options
    if (message.type === 'done') {
      thread.heapUsed = message.heapUsed
      readOutcomes(message, (outcome) => {
        const item = thread.release(outcome.slot)
        if (item) events.outcome(item, outcome)
      })
      const maxKb = this.#options.maxMemoryPerChildKb
      if (maxKb !== null && message.heapUsed > maxKb * 1024) this.#retire(thread)
      if (thread.retiring && thread.busy === 0) void thread.terminate()
      events.capacity()
    } else if (message.type === 'started') {
      for (const slot of message.slots) {
        const item = thread.items[slot]
        if (item) events.started(item)
      }
    } else if (message.type === 'log') {
      this.#options.logger[message.level](message.message, message.fields)
    } else {
      const item = thread.items[message.slot]
      if (item) events.update(item, message.state, message.meta, message.contentType)
    }
  }

  #exit = (thread: ThreadHandle, error: Error | undefined): void => {
    this.#threads.delete(thread)
    const planned = thread.retiring
    const killedFor = thread.inFlight().find((item) => item.killedFor !== undefined)?.killedFor
    const killed = killedFor !== undefined
    for (const item of thread.inFlight()) {
      const runtimeMs = ranFor(thread.startedAt[item.slot])
      thread.release(item.slot)
      const reason = item.killedFor ?? new WorkerLostError(`worker thread ${thread.threadId} exited while running ${item.headers.task}[${item.headers.id}]${error ? `: ${error.message}` : ''}`, error ? { cause: error } : {})
      this.#options.events.lost(item, reason, runtimeMs !== undefined || item.killedFor instanceof TimeLimitExceeded, runtimeMs)
    }
    if (!planned && !this.#stopping) {
      if (killed) this.#options.logger.info('terminated a worker thread; starting a new one', { threadId: thread.threadId })
      else this.#options.logger.warn('worker thread died; starting a new one', { threadId: thread.threadId, error: error?.message ?? 'exited' })
      this.#options.events.replaced?.(killed ? (killedFor instanceof TimeLimitExceeded ? 'time_limit' : 'terminated') : (error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'oom' : 'crash')
      this.#spawn()
    }
    this.#options.events.capacity()
  }
}

/** How long a task that started at `startedAt` (a thread's epoch ms, 0 if not started) has run. */
function ranFor(startedAt: number | undefined): number | undefined {
  return startedAt ? Math.max(0, Date.now() - startedAt) : undefined
}
