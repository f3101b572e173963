/**
 * An entry's last run as the beat store keeps it (`{"at":<epoch ms>,"count":<n>}`), and the
 * one reading of it that every store goes through.
 * @module
 */

/** An entry's last run: its fire time (epoch ms) and how many times it fired. */
export interface LastRunRecord {
  at: number
  count: number
}

/** What {@link readLastRun} made of a stored value: the run, or what is wrong with it. */
export type LastRunReading = { type: 'run'; run: LastRunRecord } | { type: 'unreadable'; problem: string }

/** The stored form of a last run. */
export function writeLastRun(run: LastRunRecord): string {
  return JSON.stringify({ at: run.at, count: run.count })
}

/**
 * Reads a stored last run. A value that is not JSON, not an object, or whose `at` is not a
 * time a `Date` holds or whose `count` is not a non-negative integer is `unreadable`, with
 * the reason: hand-edited or written by something else, it must not stop the scheduler.
 */
export function readLastRun(value: string): LastRunReading {
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    return unreadable(`not JSON: ${show(value)}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return unreadable(`expected an object { at, count }, got ${show(parsed)}`)
  const { at, count } = parsed as Record<string, unknown>
  // A Date holds ±8.64e15 ms: past that, the fire time has no ISO form for the task id.
  if (typeof at !== 'number' || Number.isNaN(new Date(at).getTime())) return unreadable(`at must be a time in epoch milliseconds, got ${show(at)}`)
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) return unreadable(`count must be a non-negative integer, got ${show(count)}`)
  return { type: 'run', run: { at, count } }
}

function unreadable(problem: string): LastRunReading {
  return { type: 'unreadable', problem }
}

// Enough of a value to recognise it in a log line, not a whole blob that happened to land there.
const SHOWN_CHARS = 80

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}... (${text.length} characters)` : text
}
