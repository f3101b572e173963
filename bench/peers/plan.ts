// What the comparison bench asks of every system, and what each client answers. The Python
// client (celery/client.py) reads and writes the same JSON.

/** The workloads, in the order they run. */
export const WORKLOADS = ['throughput', 'roundTrip', 'enqueue', 'io', 'cpu', 'chord'] as const
export type Workload = (typeof WORKLOADS)[number]

/** One client run: which workloads, and their sizes. */
export interface Plan {
  workloads: Workload[]
  /** No-op tasks sent (and, for `throughput`, whose results are awaited). */
  tasks: number
  /** Sequential round trips measured for p50/p99. */
  roundTrips: number
  /** CPU-bound tasks, each hashing for `cpuMs` milliseconds. */
  cpuTasks: number
  cpuMs: number
  /** I/O-bound tasks, each awaiting a timer of `ioMs` milliseconds (a stand-in for an HTTP call). */
  ioTasks: number
  ioMs: number
  /** Members of the chord (their sum is the chord's result). */
  chordSize: number
  /** Tasks in flight at once, for clients that send asynchronously. */
  window: number
  /** How long one result may take before the run fails, seconds: a lost result fails the run instead of hanging it. */
  timeoutS: number
}

/** What a client prints as its last line: one figure per measure it took. */
export interface Measures {
  /** End to end: tasks/s from the first send to the last result, in the second pass (warm). */
  throughput?: number
  /** The same, in the first pass after the processes started (cold: code not compiled yet). */
  throughputCold?: number
  /** Round trip percentiles, ms. */
  p50?: number
  p99?: number
  /** Tasks/s sent with no worker consuming. */
  enqueue?: number
  /** CPU-bound tasks/s, end to end. */
  cpu?: number
  /** I/O-bound tasks/s, end to end. */
  io?: number
  /** Chord: ms from the send to the body's result. */
  chord?: number
  /** Workloads this system could not run, with the reason. */
  unavailable?: Partial<Record<Workload, string>>
}

/** A system's client that cannot run one workload (e.g. no chord in this build). */
export class Unavailable extends Error {
  override name = 'Unavailable'
}

/** The task a no-op returns for `i`, and a chord's expected sum: how clients check their results. */
export const chordSum = (size: number) => (size * (size - 1)) / 2
