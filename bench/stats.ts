/** Median, min and max of a sample. */
export function summarize(values: number[]): { median: number; min: number; max: number; runs: number[] } {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { median, min: sorted[0], max: sorted.at(-1)!, runs: values }
}

/** A figure for people: two decimals below 100, else a rounded number with thousands separators. */
export const formatNumber = (v: number) => (Math.abs(v) < 100 && !Number.isInteger(v) ? v.toFixed(2) : Math.round(v).toLocaleString('en-US'))

/** Prints rows as an aligned table. */
export function table(rows: Record<string, string | number>[]): string {
  const keys = Object.keys(rows[0] ?? {})
  const cell = (v: string | number) => (typeof v !== 'number' ? v : formatNumber(v))
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(cell(r[k])).length)))
  const line = (values: string[]) => values.map((v, i) => v.padStart(widths[i])).join('  ')
  return [line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(keys.map((k) => String(cell(r[k])))))].join('\n')
}

/** The `p`th percentile of an ascending sample (nearest rank). */
export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

/**
 * The contenders of an interleaved bench in the order run `run` (from 1, of `runs`) takes them.
 * In one fixed order every contender has the same place in every run, so whatever that place
 * costs on a noisy machine (what ran just before it, being first after a slow one) lands on
 * the same figures each time and the medians cannot wash it out. Each run starts `1 / runs`
 * further along the list instead, and every other run goes through it backwards.
 */
export function inRunOrder<T>(list: readonly T[], run: number, runs: number): T[] {
  const shift = list.length === 0 ? 0 : ((run - 1) * Math.ceil(list.length / runs)) % list.length
  const rotated = [...list.slice(shift), ...list.slice(0, shift)]
  return run % 2 === 0 ? rotated.reverse() : rotated
}

/** Runs `send(0..count-1)` with at most `window` in flight, in order; resolves to every result. */
export async function inWindows<T>(count: number, window: number, send: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = []
  for (let start = 0; start < count; start += window) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(window, count - start) }, (_, k) => send(start + k)))))
  }
  return out
}

/** A no-op task (`noop(i)` returns `i`), as the benches' apps define it. */
interface NoopTask {
  delay(i: number): Promise<{ get(options: { timeout: number }): Promise<unknown> }>
}

/**
 * Sends `noop(0..count-1)`, 1,000 in flight, then awaits every result, 1,000 at a time, and
 * checks each: a lost or wrong result fails the run.
 */
export async function noopPass(noop: NoopTask, count: number): Promise<void> {
  const handles = await inWindows(count, 1_000, (i) => noop.delay(i))
  const values = await inWindows(count, 1_000, (i) => handles[i].get({ timeout: 120 }))
  values.forEach((v, i) => {
    if (v !== i) throw new Error(`wrong result for task ${i}: ${JSON.stringify(v)}`)
  })
}
