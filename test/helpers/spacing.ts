/**
 * Whether start times obey a rate limit of one start per `intervalMs`, as measured from the
 * tasks themselves: the whole run is at least (n - 1) intervals long (less a little for clock
 * reads), and no two starts are closer than half an interval. Single gaps are not held to the
 * full interval: a start that reached its thread late (a loaded machine) shortens the gap after
 * it without the limiter having let anything through early. Without a limiter the starts bunch
 * (gaps near 0, a short run), so this still fails.
 */
export function obeysInterval(times: readonly number[], intervalMs: number): { ok: boolean; detail: string } {
  const sorted = [...times].sort((a, b) => a - b)
  const gaps = sorted.slice(1).map((at, i) => at - sorted[i])
  const span = sorted.length > 0 ? sorted[sorted.length - 1] - sorted[0] : 0
  const want = (sorted.length - 1) * intervalMs - 25
  const ok = span >= want && gaps.every((gap) => gap >= intervalMs / 2)
  return { ok, detail: `${sorted.length} starts over ${span} ms (at least ${want}), gaps ${gaps.join(', ')} ms` }
}
