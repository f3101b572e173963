/**
 * "Did you mean": the known name nearest a misspelt one (edit distance, case aside), used by
 * every place that refuses an unknown name (config keys, options, CLI commands and methods).
 * @module
 */

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]
}

/** The known name closest to a misspelt one, if it is close enough to be what was meant. */
export function closestKey(name: string, known: readonly string[]): string | undefined {
  const near = known.map((k) => [k, distance(name, k)] as const).sort((a, b) => a[1] - b[1])[0]
  return near && near[1] <= 3 ? near[0] : undefined
}

/**
 * Throws `error(key, near)` for the first own key of `value` not in `known`: a typo such as
 * `{ timout: 1 }` would otherwise be ignored without a word. TypeScript catches these at
 * compile time; JavaScript, JSON and `as any` do not.
 */
export function checkKnownKeys(value: object, known: readonly string[], error: (key: string, near: string | undefined) => Error): void {
  for (const key of Object.keys(value)) if (!known.includes(key)) throw error(key, closestKey(key, known))
}
