import { MessageChannel, type Worker, type ResourceLimits } from 'node:worker_threads'
import { wrap, releaseProxy, type Remote } from 'comlink'
import nodeEndpoint from 'comlink/dist/umd/node-adapter.js'
import { installComlinkErrorHandler } from '../../protocol/comlink-errors.js'
import { spawnThread, threadEntry } from './spawn.js'
import type { InFlight } from '../in-flight.js'
import { RunBatchWriter, type RunEntry } from '../../protocol/thread-batch.js'
import type { ThreadReady, ThreadToMain } from '../../protocol/thread-messages.js'
import type { ThreadApi } from '../thread/entry.js'

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
  readonly #free: number[]
  readonly #outbox = new RunBatchWriter()
  #flushQueued = false
  /** Tasks given to this thread since it started. */
  dispatched = 0
  heapUsed = 0
  /** Takes no new work; replaced once idle. */
  retiring = false
  exited = false

  constructor(spec: ThreadSpec, listener: ThreadListener) {
    this.capacity = spec.capacity
    this.items = new Array(spec.capacity).fill(undefined)
    this.#free = Array.from({ length: spec.capacity }, (_, i) => spec.capacity - 1 - i)
    const shared = new SharedArrayBuffer(spec.capacity * Float64Array.BYTES_PER_ELEMENT)
    this.startedAt = new Float64Array(shared)
    const control = new MessageChannel()
    this.worker = spawnThread(threadEntry(), {
      workerData: { modules: spec.modules, appName: spec.appName, hostname: spec.hostname, startedAt: shared, reportHeap: spec.reportHeap, control: control.port2 },
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

  get busy(): number {
    return this.capacity - this.#free.length
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
    this.startedAt[slot] = 0
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
    this.#free.push(slot)
    return item
  }

  /** Tasks still on this thread. */
  inFlight(): InFlight[] {
    return this.items.filter((item): item is InFlight => item !== undefined)
  }

  terminate(): Promise<number> {
    return this.worker.terminate()
  }
}
