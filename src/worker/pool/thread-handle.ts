import { MessageChannel, type Worker, type ResourceLimits } from 'node:worker_threads'
import { wrap, releaseProxy, type Remote } from 'comlink'
import nodeEndpoint from 'comlink/dist/umd/node-adapter.js'
import { installComlinkErrorHandler } from '../../protocol/comlink-errors.js'
import { spawnThread, threadEntry } from './spawn.js'
import type { InFlight } from '../in-flight.js'
import { RunBatchWriter, type RunEntry } from '../../protocol/thread-batch.js'
import { Claim, HELD_MS, HELD_REPORT_MS, sharedSlots, type ThreadReady, type ThreadToMain } from '../../protocol/thread-messages.js'
import type { ThreadApi } from '../thread/entry.js'

/** How long a thread with an abandoned task may miss its beats, held by an unknown task, before it is terminated, ms. */
const STUCK_MS = 1_000

/** Callbacks of one thread. */
export interface ThreadListener {
  message(thread: ThreadHandle, message: ThreadToMain): void
  exit(thread: ThreadHandle, error: Error | undefined): void
}

/** What a thread is started with. */
export interface ThreadSpec {
  modules: string[]
  appName: string
  hostname: string
  capacity: number
  /** The thread reports its heap with every batch of outcomes (`maxMemoryPerChild` is set). */
  reportHeap: boolean
  resourceLimits?: ResourceLimits
}

installComlinkErrorHandler()
const adapt = nodeEndpoint as unknown as (port: unknown) => Parameters<typeof wrap>[0]

/**
 * The main thread's side of one worker thread: its slots, its outbox of task batches, and the
 * shared array where the thread writes when each slot's task started.
 */
export class ThreadHandle {
  readonly worker: Worker
  readonly api: Remote<ThreadApi>
  readonly capacity: number
  /** Captured at start: a Worker reports -1 once it has exited. */
  readonly threadId: number
  /** Epoch ms at which the task in each slot started; 0 while queued or idle. */
  readonly startedAt: Float64Array
  readonly items: (InFlight | undefined)[]
  /** The thread's heartbeat (see BEAT_MS): epoch ms while it runs tasks, 0 once it has run none for a beat. */
  readonly #beat: Float64Array
  /** Each slot's claim, shared with the thread (see Claim). */
  readonly #claims: Int32Array
  /** The slot of the task the thread started last. */
  readonly #lastStarted: Int32Array
  /** The entry each slot's task was sent with, kept until it ends: a task taken back from a held thread is sent on with it. */
  readonly #entries: (RunEntry | undefined)[]
  /** Slots whose task was taken back, until the thread has skipped it. */
  #withdrawn: number[] = []
  readonly #free: number[]
  readonly #outbox = new RunBatchWriter()
  #flushQueued = false
  /** Tasks given to this thread since it started. */
  dispatched = 0
  heapUsed = 0
  /** Takes no new work; replaced once idle. */
  retiring = false
  exited = false
  /**
   * Whether a task held the thread's event loop at the pool's last look: it runs tasks and its
   * heartbeat was over {@link HELD_MS} old. A task sent to it would wait for the holder to end.
   */
  held = false
  /** This hold was reported (see {@link longHold}). */
  #reported = false
  /** Tasks let go of while still running (see {@link abandon}): their slots stay taken until the thread ends. */
  #abandoned = 0
  /** The slots of the tasks let go of (see {@link abandon}): a hold by one of them ends the thread. */
  readonly #abandonedSlots = new Set<number>()

  constructor(spec: ThreadSpec, listener: ThreadListener) {
    this.capacity = spec.capacity
    this.items = new Array(spec.capacity).fill(undefined)
    this.#free = Array.from({ length: spec.capacity }, (_, i) => spec.capacity - 1 - i)
    const shared = sharedSlots(spec.capacity)
    this.startedAt = shared.startedAt
    this.#beat = shared.beat
    this.#claims = shared.claims
    this.#lastStarted = shared.lastStarted
    this.#entries = new Array(spec.capacity).fill(undefined)
    const control = new MessageChannel()
    this.worker = spawnThread(threadEntry(), {
      workerData: { modules: spec.modules, appName: spec.appName, hostname: spec.hostname, shared: shared.buffer, reportHeap: spec.reportHeap, control: control.port2 },
      transferList: [control.port2],
      ...(spec.resourceLimits ? { resourceLimits: spec.resourceLimits } : {}),
    })
    this.threadId = this.worker.threadId
    this.api = wrap<ThreadApi>(adapt(control.port1))
    this.worker.on('message', (message: ThreadToMain) => listener.message(this, message))
    let failure: Error | undefined
    this.worker.on('error', (error) => (failure = error))
    this.worker.on('exit', (code) => {
      this.exited = true
      this.api[releaseProxy]()
      control.port1.close()
      listener.exit(this, failure ?? (code === 0 ? undefined : new Error(`thread exited with code ${code}`)))
    })
  }


  #ready?: Promise<ThreadReady>

  /** Imports the task modules in the thread (once; later calls share the first). */
  ready(): Promise<ThreadReady> {
    this.#ready ??= this.api.init()
    return this.#ready
  }

  get free(): number {
    return this.#free.length
  }

  /** Takes new tasks: neither retiring nor exited. */
  get open(): boolean {
    return !this.retiring && !this.exited
  }

  /** Tasks on the thread that the node still waits for (an abandoned one is not). */
  get busy(): number {
    return this.capacity - this.#free.length - this.#abandoned
  }

  /**
   * Lets go of the task in `slot` while its code may still run: the node no longer waits for
   * it, and whatever it reports later is dropped. Its slot is never freed, so only a thread
   * that takes no new task (retiring) may abandon one; the task's code ends with the thread.
   */
  abandon(slot: number): void {
    this.items[slot] = undefined
    this.#entries[slot] = undefined
    this.#abandoned++
    this.#abandonedSlots.add(slot)
  }

  /**
   * A thread with an abandoned task whose loop an abandoned task holds at `now`: only
   * terminating it ends that task, and its siblings with it. When the holder is known (it
   * started at the last beat), that is at once if it is an abandoned task, and never if it is a
   * sibling, which ends in its own time. When it is not, only after {@link STUCK_MS} of silence:
   * a thread busy with a burst of short tasks, or not scheduled on a loaded machine, misses its
   * beats for longer than {@link HELD_MS}, and terminating it then failed the tasks beside it.
   */
  stuck(now: number): boolean {
    const beat = this.#beat[0]
    if (this.#abandoned === 0 || this.exited || beat === 0 || now - beat <= HELD_MS) return false
    const slot = this.#lastStarted[0]
    if (this.startedAt[slot] === beat) return this.#abandonedSlots.has(slot)
    return now - beat > STUCK_MS
  }

  /** Looks at the heartbeat at `now` (epoch ms) and sets {@link held}; answers whether it changed. */
  lookAt(now: number): boolean {
    const beat = this.#beat[0]
    const held = this.open && beat !== 0 && now - beat > HELD_MS
    if (held === this.held) return false
    this.held = held
    this.#reported = false
    return true
  }

  /**
   * Once per hold that has lasted {@link HELD_REPORT_MS} at `now`: how long, and the task that
   * holds the thread when it is known (the one that started at the last beat, and has held the
   * thread since it started). Undefined otherwise.
   */
  longHold(now: number): { ms: number; holder: InFlight | undefined } | undefined {
    const beat = this.#beat[0]
    if (!this.held || this.#reported || now - beat < HELD_REPORT_MS) return undefined
    this.#reported = true
    const slot = this.#lastStarted[0]
    return { ms: now - beat, holder: this.startedAt[slot] === beat ? this.items[slot] : undefined }
  }

  /**
   * Puts a task in a free slot and queues it for the thread; the batch goes out at the end of
   * this turn, or at once when `now` (see ThreadPool.dispatch).
   */
  dispatch(item: InFlight, entry: RunEntry, now = false): void {
    const slot = this.#free.pop()!
    item.slot = slot
    item.threadId = this.threadId
    this.items[slot] = item
    this.#entries[slot] = entry
    this.startedAt[slot] = 0
    Atomics.store(this.#claims, slot, Claim.sent)
    this.dispatched++
    entry.slot = slot
    this.#outbox.add(entry)
    if (now) return this.#flush()
    if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(this.#flush)
    }
  }

  #flush = (): void => {
    this.#flushQueued = false
    if (this.exited || this.#outbox.size === 0) return
    const batch = this.#outbox.take()
    this.worker.postMessage(batch, [batch.frames, batch.table])
  }

  /** Frees a slot and returns the task that was in it. */
  release(slot: number): InFlight | undefined {
    const item = this.items[slot]
    if (item === undefined) return undefined
    this.items[slot] = undefined
    this.#entries[slot] = undefined
    this.#free.push(slot)
    return item
  }

  /**
   * Takes back up to `max` tasks the thread has not started (it is held: they would wait for
   * the holder), with the entries they were sent with. Their slots stay taken until the thread
   * has skipped them (see {@link reclaim}).
   */
  withdraw(max: number): [InFlight, RunEntry][] {
    const taken: [InFlight, RunEntry][] = []
    for (let slot = 0; slot < this.capacity && taken.length < max; slot++) {
      const item = this.items[slot]
      if (item === undefined || Atomics.compareExchange(this.#claims, slot, Claim.sent, Claim.withdrawn) !== Claim.sent) continue
      taken.push([item, this.#entries[slot]!])
      this.items[slot] = undefined
      this.#entries[slot] = undefined
      this.#withdrawn.push(slot)
    }
    return taken
  }

  /**
   * Takes back the task in `slot` if the thread has not started it (a revoke): true when taken,
   * and its slot stays taken until the thread has skipped it (see {@link reclaim}).
   */
  takeBack(slot: number): boolean {
    if (this.items[slot] === undefined || Atomics.compareExchange(this.#claims, slot, Claim.sent, Claim.withdrawn) !== Claim.sent) return false
    this.items[slot] = undefined
    this.#entries[slot] = undefined
    this.#withdrawn.push(slot)
    return true
  }

  /** Frees the slots of taken-back tasks that the thread has skipped; answers whether it freed any. */
  reclaim(): boolean {
    if (this.#withdrawn.length === 0) return false
    const before = this.#free.length
    this.#withdrawn = this.#withdrawn.filter((slot) => {
      if (Atomics.load(this.#claims, slot) !== Claim.idle) return true
      this.#free.push(slot)
      return false
    })
    return this.#free.length > before
  }

  /** Tasks still on this thread. */
  inFlight(): InFlight[] {
    return this.items.filter((item): item is InFlight => item !== undefined)
  }

  terminate(): Promise<number> {
    return this.worker.terminate()
  }
}
