/**
 * What the dashboard knows about the cluster, built from its event stream alone: workers from
 * their online / heartbeat / offline events, tasks from task events. Bounded: the oldest tasks
 * are dropped past `maxTasks`.
 * @module
 */
import type { CeleriacEvent, TaskEvent, WorkerEvent } from '../events/events.js'

/** One state change of a task, as the timeline shows it. */
export interface TimelineEntry {
  /** The event type (`task-started`). */
  type: string
  state: string
  /** Epoch ms, from the event. */
  timestamp: number
  hostname: string
  /** The exception of a failure or a retry. */
  exception?: string
}

/** A task as the dashboard shows it (Flower's task fields, camelCase). */
export interface TaskRow {
  id: string
  name?: string
  state: string
  queue?: string
  /** The node that received it. */
  worker?: string
  /** JSON text of the positional arguments (from task-received), cut at 1,024 characters. */
  args?: string
  kwargs?: string
  /** JSON text of the return value (from task-succeeded). */
  result?: string
  exception?: string
  traceback?: string
  sent?: number
  received?: number
  started?: number
  /** When it reached a ready state, epoch ms. */
  finished?: number
  /** Seconds the run took. */
  runtime?: number
  retries: number
  eta?: number
  expires?: number
  rootId?: string
  parentId?: string
  children: string[]
  /** Last event, epoch ms. */
  timestamp: number
  timeline: TimelineEntry[]
}

/** A worker node as the dashboard shows it. */
export interface WorkerRow {
  hostname: string
  /** `online` while heartbeats come; `offline` after worker-offline or two missed heartbeats. */
  status: 'online' | 'offline'
  /** Heartbeat interval, seconds. */
  freq: number
  /**
   * Tasks its threads run, from its heartbeats (Celery's `active`). A node of an earlier
   * version, which sends no `reserved`, counted there every task it held, reserved included.
   */
  active: number
  processed: number
  swIdent: string
  swVer: string
  swSys: string
  /** First event heard from it, epoch ms. */
  firstSeen: number
  /** Last event heard from it, epoch ms (the event's timestamp). */
  lastHeartbeat: number
  /** Filled from `inspect stats` when the dashboard asked. */
  pid?: number
  threads?: number
  /** Threads a task holds (a CPU-bound or synchronous one), from `inspect stats`. */
  held?: number
  queues?: string[]
  rssKb?: number
  /** Seconds, as the node reported it. */
  uptime?: number
  /** Tasks finished by name, from `inspect stats`. */
  total?: Record<string, number>
  /** Async tasks each thread runs at once, from `inspect stats`. */
  tasksPerThread?: number
  /** Tasks the node runs at once at most: threads x tasks per thread. */
  slots?: number
  /** Tasks its threads run (the worker's celeriac_worker_tasks_active), from its heartbeats or `inspect active`, whichever came last. */
  running?: number
  /** Tasks it holds that no thread runs yet (lookahead, rate limit), from its heartbeats or `inspect reserved`. */
  reserved?: number
  /** Running tasks over slots (0 to 1), once stats gave the slots. */
  load?: number
}

const STATE_OF: Record<TaskEvent['type'], string> = {
  'task-sent': 'PENDING',
  'task-received': 'RECEIVED',
  'task-started': 'STARTED',
  'task-succeeded': 'SUCCESS',
  'task-failed': 'FAILURE',
  'task-retried': 'RETRY',
  'task-revoked': 'REVOKED',
  'task-rejected': 'REJECTED',
}
const READY = new Set(['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED'])
/** How many of the oldest kept tasks are looked at for one that is done, when one must go. */
const DROP_SCAN = 1_000

const NO_IDS: ReadonlySet<string> = new Set()

const RANK: Record<string, number> = { PENDING: 0, RECEIVED: 1, STARTED: 2 }

/**
 * Adds an entry in time order. A send (task-sent) comes from the sender's process, whose clock
 * may differ from the worker's (another machine), and may arrive after the worker's events: it
 * goes first in its attempt (after the last RETRY) whatever its time, and no later entry of the
 * attempt goes before it, whatever its time. On equal times the lifecycle order decides.
 */
function insertByTime(timeline: TimelineEntry[], entry: TimelineEntry): void {
  if (entry.state === 'PENDING') {
    let start = timeline.length
    while (start > 0 && timeline[start - 1].state !== 'RETRY') start--
    if (!timeline.slice(start).some((e) => e.state === 'PENDING')) return void timeline.splice(start, 0, entry)
  }
  const rank = RANK[entry.state] ?? 3
  let i = timeline.length
  while (i > 0 && timeline[i - 1].state !== 'PENDING' && (timeline[i - 1].timestamp > entry.timestamp || (timeline[i - 1].timestamp === entry.timestamp && (RANK[timeline[i - 1].state] ?? 3) > rank))) i--
  timeline.splice(i, 0, entry)
}

/** The dashboard's own link to the broker: whether it is up, and since when (epoch ms; 0: from the start). */
export interface BrokerLink {
  readonly connected: boolean
  readonly since: number
}

/** Called with every event after it was applied; `task` is its row (undefined for worker events). */
export type EventListener = (event: CeleriacEvent, task: TaskRow | undefined) => void

/** The dashboard's model of the cluster. */
export class DashboardState {
  readonly maxTasks: number
  /** Insertion order is first-seen order: the first key is the oldest task. */
  readonly tasks = new Map<string, TaskRow>()
  readonly workers = new Map<string, WorkerRow>()
  /**
   * The retained tasks of each canvas, by root id, in first-seen order: the task page draws a
   * task's canvas from it without scanning every retained task.
   */
  readonly #byRoot = new Map<string, Set<string>>()
  readonly #listeners = new Set<EventListener>()
  readonly #now: () => number
  /** Events applied so far. */
  eventsSeen = 0
  /** Tasks dropped to stay within `maxTasks`. */
  dropped = 0
  /**
   * Name and queue of tasks dropped before they were done, oldest first, at most `maxTasks`: a
   * later event of one (started, succeeded) brings its row back named, and its metrics labelled.
   */
  readonly #droppedNames = new Map<string, { name?: string; queue?: string }>()
  #broker: BrokerLink = { connected: true, since: 0 }

  constructor(options: { maxTasks?: number; now?: () => number } = {}) {
    const maxTasks = options.maxTasks ?? 100_000
    if (!Number.isInteger(maxTasks) || maxTasks < 1) throw new RangeError(`maxTasks must be a positive integer, got ${maxTasks}`)
    this.maxTasks = maxTasks
    this.#now = options.now ?? Date.now
  }

  /** Calls `listener` after each applied event; returns the unsubscribe. */
  onEvent(listener: EventListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Applies one event. */
  apply(event: CeleriacEvent): void {
    this.eventsSeen++
    let row: TaskRow | undefined
    if (event.type.startsWith('worker-')) this.#worker(event as WorkerEvent)
    else row = this.#task(event as TaskEvent)
    for (const listener of this.#listeners) listener(event, row)
  }

  /** Ids of the retained tasks whose root is `rootId` (first seen first); empty when none. */
  canvasIds(rootId: string): ReadonlySet<string> {
    return this.#byRoot.get(rootId) ?? NO_IDS
  }

  /**
   * Whether the dashboard hears the broker, and since when (epoch ms). While it does not,
   * a worker's silence says nothing of the worker.
   */
  get broker(): BrokerLink {
    return this.#broker
  }

  /** The broker connection was lost (`connected: false`) or is back. */
  brokerLink(connected: boolean): void {
    if (connected === this.#broker.connected) return
    this.#broker = { connected, since: this.#now() }
  }

  /**
   * The workers, with `status` computed from heartbeat age now. While the broker cannot be
   * heard, and for two heartbeats after it is back, no worker is taken for gone: the
   * heartbeats missed were the dashboard's, and a node that did go says so by staying silent
   * once the link is back.
   */
  workerList(): WorkerRow[] {
    const { connected, since } = this.#broker
    const now = connected ? this.#now() : since
    for (const worker of this.workers.values()) {
      const heard = connected ? Math.max(worker.lastHeartbeat, since) : worker.lastHeartbeat
      // Two missed heartbeats (plus a little skew) and it is taken for gone, as Flower does.
      if (worker.status === 'online' && now - heard > worker.freq * 2000 + 2000) worker.status = 'offline'
    }
    return [...this.workers.values()]
  }

  #worker(event: WorkerEvent): void {
    let row = this.workers.get(event.hostname)
    if (!row) {
      row = { hostname: event.hostname, status: 'online', freq: event.freq, active: 0, processed: 0, swIdent: event.swIdent, swVer: event.swVer, swSys: event.swSys, firstSeen: event.timestamp, lastHeartbeat: event.timestamp }
      this.workers.set(event.hostname, row)
    }
    if (event.type === 'worker-online' && row.status === 'offline') row.firstSeen = event.timestamp
    row.status = event.type === 'worker-offline' ? 'offline' : 'online'
    row.freq = event.freq
    row.active = event.active
    // A node that sends `reserved` sends in `active` only what runs (an older one sent both in it).
    const reserved = event.reserved
    if (typeof reserved === 'number') {
      row.running = event.active
      row.reserved = reserved
      if (row.slots) row.load = event.active / row.slots
    }
    row.processed = event.processed
    row.swIdent = event.swIdent
    row.swVer = event.swVer
    row.swSys = event.swSys
    row.lastHeartbeat = event.timestamp
  }

  #task(event: TaskEvent): TaskRow {
    let row = this.tasks.get(event.uuid)
    if (!row) {
      row = { id: event.uuid, state: 'PENDING', retries: 0, children: [], timestamp: event.timestamp, timeline: [] }
      const known = this.#droppedNames.get(event.uuid)
      if (known !== undefined) {
        this.#droppedNames.delete(event.uuid)
        if (known.name !== undefined) row.name = known.name
        if (known.queue !== undefined) row.queue = known.queue
      }
      this.tasks.set(event.uuid, row)
      if (this.tasks.size > this.maxTasks) this.#dropOldest()
    }
    const state = STATE_OF[event.type]
    insertByTime(row.timeline, { type: event.type, state, timestamp: event.timestamp, hostname: event.hostname, ...('exception' in event && event.exception ? { exception: event.exception } : {}) })
    // Events come from several processes: a late task-sent must not undo what a worker reported,
    // nor a late report undo a ready state (a retry's RECEIVED comes after RETRY, not after SUCCESS).
    const keep = (state === 'PENDING' && row.state !== 'PENDING') || (READY.has(row.state) && !READY.has(state))
    if (!keep) row.state = state
    row.timestamp = Math.max(row.timestamp, event.timestamp)
    switch (event.type) {
      case 'task-sent':
        row.name = event.name
        row.sent = event.timestamp
        if (event.queue !== undefined) row.queue = event.queue
        this.#lineage(row, event.rootId, event.parentId)
        if (event.eta !== undefined) row.eta = event.eta
        if (event.expires !== undefined) row.expires = event.expires
        break
      case 'task-received':
        row.name = event.name
        row.received = event.timestamp
        row.worker = event.hostname
        row.retries = event.retries
        if (event.queue !== undefined) row.queue = event.queue
        if (event.args !== undefined) row.args = event.args
        if (event.kwargs !== undefined) row.kwargs = event.kwargs
        if (event.eta !== undefined) row.eta = event.eta
        if (event.expires !== undefined) row.expires = event.expires
        this.#lineage(row, event.rootId, event.parentId)
        break
      case 'task-started':
        row.started = event.timestamp
        row.worker = event.hostname
        break
      case 'task-succeeded':
        row.finished = event.timestamp
        row.runtime = event.runtime
        if (event.result !== undefined) row.result = event.result
        break
      case 'task-failed':
        row.finished = event.timestamp
        row.exception = event.exception
        if (event.traceback !== undefined) row.traceback = event.traceback
        break
      case 'task-retried':
        if (event.exception !== undefined) row.exception = event.exception
        if (event.traceback !== undefined) row.traceback = event.traceback
        break
      case 'task-revoked':
      case 'task-rejected':
        if (READY.has(state) && row.state === state) row.finished = event.timestamp
        break
    }
    return row
  }

  #lineage(row: TaskRow, rootId: string, parentId: string | undefined): void {
    if (row.rootId !== rootId) {
      if (row.rootId !== undefined) this.#unindex(row)
      row.rootId = rootId
      let ids = this.#byRoot.get(rootId)
      if (!ids) this.#byRoot.set(rootId, (ids = new Set()))
      ids.add(row.id)
    }
    if (parentId === undefined || row.parentId === parentId) return
    row.parentId = parentId
    const parent = this.tasks.get(parentId)
    if (parent && !parent.children.includes(row.id)) parent.children.push(row.id)
  }

  /**
   * Drops the oldest task that is done, among the oldest {@link DROP_SCAN} kept, else the oldest
   * of all: a task still running gets more events, and a backlog of sent tasks is the newest
   * thing to lose. One dropped before it was done leaves its name for its later events.
   */
  #dropOldest(): void {
    let victim: TaskRow | undefined
    let scanned = 0
    for (const row of this.tasks.values()) {
      if (READY.has(row.state)) {
        victim = row
        break
      }
      if (++scanned >= DROP_SCAN) break
    }
    const row = victim ?? (this.tasks.values().next().value as TaskRow)
    this.tasks.delete(row.id)
    if (row.rootId !== undefined) this.#unindex(row)
    this.dropped++
    if (!READY.has(row.state)) {
      this.#droppedNames.set(row.id, { name: row.name, queue: row.queue })
      if (this.#droppedNames.size > this.maxTasks) this.#droppedNames.delete(this.#droppedNames.keys().next().value as string)
    }
  }

  #unindex(row: TaskRow): void {
    const ids = this.#byRoot.get(row.rootId!)
    ids?.delete(row.id)
    if (ids?.size === 0) this.#byRoot.delete(row.rootId!)
  }
}
