// How the pages write times, durations and sizes, and where a chart's time ticks go. No imports:
// test/dashboard/format.test.ts runs it in Node.

const pad = (n) => String(n).padStart(2, '0')

/** `15:04:05`, local time, 24-hour (the same in every locale, so tests and screenshots agree). */
export function clock(ms) {
  const d = new Date(ms)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export function ago(ms, now = Date.now()) {
  if (ms === undefined || ms === null) return '—'
  const s = Math.max(0, (now - ms) / 1000)
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return `${(s / 3600).toFixed(1)} h ago`
}

export function time(ms) {
  if (ms === undefined || ms === null) return '—'
  return `${clock(ms)}.${String(new Date(ms).getMilliseconds()).padStart(3, '0')}`
}

/** A task's runtime: milliseconds below a second, then as {@link span}. */
export function duration(s) {
  if (s === undefined || s === null) return '—'
  if (s < 1) return `${(s * 1000).toFixed(1)} ms`
  if (s < 60) return `${s.toFixed(2)} s`
  return span(s)
}

/** A long stretch of time in its two largest units: `39 s`, `4 min 12 s`, `3 h 5 min`, `2 d 4 h`. */
export function span(s) {
  if (s === undefined || s === null || !Number.isFinite(s)) return '—'
  const total = Math.max(0, Math.floor(s))
  const units = [['d', 86_400], ['h', 3600], ['min', 60], ['s', 1]]
  const i = units.findIndex(([, size]) => total >= size)
  if (i === -1 || i === units.length - 1) return `${total} s`
  const [big, bigSize] = units[i]
  const [small, smallSize] = units[i + 1]
  const rest = Math.floor((total % bigSize) / smallSize)
  return rest === 0 ? `${Math.floor(total / bigSize)} ${big}` : `${Math.floor(total / bigSize)} ${big} ${rest} ${small}`
}

export function bytes(kb) {
  if (kb === undefined || kb === null) return '—'
  return kb > 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)} GiB` : `${(kb / 1024).toFixed(1)} MiB`
}

/**
 * The x range of a time chart, epoch seconds. Data at one instant (one sample) has no width:
 * uPlot would stretch it over years, so it gets `window` seconds around that instant (or now).
 */
export function timeRange(min, max, window = 60, now = Date.now() / 1000) {
  if (min === null || min === undefined || max === null || max === undefined) return [now - window / 2, now + window / 2]
  if (max - min < 1) return [min - window / 2, max + window / 2]
  return [min, max]
}

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800, 2_592_000]
/** Width of one label character at the axis font (12 px), generous so estimates never undershoot. */
const CHAR_PX = 8
const GAP_PX = 14

/**
 * Ticks for a time axis `width` px wide over [min, max] (epoch seconds): one line per label,
 * time only within a day, never closer than a label's width plus a gap, on round local times.
 */
export function timeTicks(min, max, width) {
  const spanS = max - min
  const withDate = spanS > 86_400
  const format = withDate
    ? (t) => `${new Date(t * 1000).toLocaleDateString('en-US', { month: 'short', day: 'numeric' })} ${clock(t * 1000).slice(0, 5)}`
    : (t, step) => (step < 60 ? clock(t * 1000) : clock(t * 1000).slice(0, 5))
  const labelPx = (withDate ? 12 : 8) * CHAR_PX + GAP_PX
  const room = Math.max(2, Math.floor(width / labelPx))
  const step = STEPS.find((s) => spanS / s <= room - 1) ?? Math.ceil(spanS / (room - 1))
  // Round on local time: 15:00, not 15:30 in a half-hour zone.
  const offset = -new Date(min * 1000).getTimezoneOffset() * 60
  const ticks = []
  for (let t = Math.ceil((min + offset) / step) * step - offset; t <= max; t += step) ticks.push(t)
  return { ticks, labels: ticks.map((t) => format(t, step)), step }
}

/**
 * A line under the runtime chart when its series lie on each other, so one line is not read as
 * one series: with n tasks in a second p95 is the slowest below 20, p99 below 100.
 */
export function percentileNote(points) {
  const seen = points.filter((p) => p.p50 !== null)
  if (seen.length === 0) return 'No task finished in this window.'
  if (seen.every((p) => p.p50 === p.p99)) return 'p50, p95 and p99 are equal: each second had one task, or tasks of one runtime.'
  if (seen.some((p) => p.p95 === p.p99)) return 'Where p95 and p99 meet, that second had too few tasks to tell them apart: both are its slowest.'
  return undefined
}
