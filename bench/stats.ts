/** Median, min and max of a sample. */
export function summarize(values: number[]): { median: number; min: number; max: number; runs: number[] } {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { median, min: sorted[0], max: sorted.at(-1)!, runs: values }
}

/** Prints rows as an aligned table. */
export function table(rows: Record<string, string | number>[]): string {
  const keys = Object.keys(rows[0] ?? {})
  const cell = (v: string | number) => (typeof v !== 'number' ? v : Math.abs(v) < 100 && !Number.isInteger(v) ? v.toFixed(2) : Math.round(v).toLocaleString('en-US'))
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(cell(r[k])).length)))
  const line = (values: string[]) => values.map((v, i) => v.padStart(widths[i])).join('  ')
  return [line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(keys.map((k) => String(cell(r[k])))))].join('\n')
}
