/**
 * Per-second counts of finished tasks and their runtimes over the last minutes, for the
 * overview charts: a fixed ring of one-second buckets, so memory stays flat however many
 * tasks flow.
 * @module
 */

/** Runtimes kept per second for the percentiles; past this a bucket samples (reservoir). */
const SAMPLES_PER_SECOND = 512

interface Bucket {
  second: number
  succeeded: number
  failed: number
  runtimes: number[]
  seen: number
}

/** One point of the overview: a second and what finished in it. */
export interface SeriesPoint {
  /** Epoch seconds. */
  t: number
  succeeded: number
  failed: number
  /** Runtime percentiles of the tasks that succeeded in that second, seconds (null when none). */
  p50: number | null
  p95: number | null
  p99: number | null
}

/** A ring of per-second buckets covering the last `seconds`. */
export class ThroughputSeries {
  readonly #buckets: Bucket[]

  constructor(readonly seconds = 600) {
    this.#buckets = Array.from({ length: seconds }, () => ({ second: -1, succeeded: 0, failed: 0, runtimes: [], seen: 0 }))
  }

  #bucket(ms: number): Bucket {
    const second = Math.floor(ms / 1000)
    const bucket = this.#buckets[second % this.seconds]
    if (bucket.second !== second) {
      bucket.second = second
      bucket.succeeded = 0
      bucket.failed = 0
      bucket.runtimes = []
      bucket.seen = 0
    }
    return bucket
  }

  succeeded(at: number, runtime: number): void {
    const bucket = this.#bucket(at)
    bucket.succeeded++
    bucket.seen++
    if (bucket.runtimes.length < SAMPLES_PER_SECOND) bucket.runtimes.push(runtime)
    else {
      const slot = Math.floor(Math.random() * bucket.seen)
      if (slot < SAMPLES_PER_SECOND) bucket.runtimes[slot] = runtime
    }
  }

  failed(at: number): void {
    this.#bucket(at).failed++
  }

  /** The last `span` seconds up to `now`, oldest first, one point per second. */
  points(now: number, span = 120): SeriesPoint[] {
    const last = Math.floor(now / 1000)
    const points: SeriesPoint[] = []
    for (let t = last - Math.min(span, this.seconds) + 1; t <= last; t++) {
      const bucket = this.#buckets[((t % this.seconds) + this.seconds) % this.seconds]
      if (bucket.second !== t) {
        points.push({ t, succeeded: 0, failed: 0, p50: null, p95: null, p99: null })
        continue
      }
      const sorted = [...bucket.runtimes].sort((a, b) => a - b)
      points.push({ t, succeeded: bucket.succeeded, failed: bucket.failed, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99) })
    }
    return points
  }
}

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}
