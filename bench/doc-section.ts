// Writes a bench's figures into BENCHMARKS.md (or the README) between `<!-- name:begin -->` and
// `<!-- name:end -->`; the prose around them stays.
import { readFileSync, writeFileSync } from 'node:fs'
import { formatNumber } from './stats.js'

/** Replaces the text between the markers of `name` in BENCHMARKS.md (or `file`, from bench/) with `section`. */
export function writeDocSection(name: string, section: string, file = '../BENCHMARKS.md'): void {
  const doc = new URL(file, import.meta.url)
  const [begin, end] = [`<!-- ${name}:begin -->`, `<!-- ${name}:end -->`]
  const [head, rest] = readFileSync(doc, 'utf8').split(begin)
  const tail = rest?.split(end)[1]
  if (tail === undefined) throw new Error(`BENCHMARKS.md: the markers ${begin} and ${end} are missing`)
  writeFileSync(doc, `${head}${begin}\n${section}\n${end}${tail}`)
  console.log(`updated ${file.slice(3)} (${name})`)
}

/** Rows as a Markdown table; numbers right-aligned and formatted. */
export function markdownTable(rows: Record<string, string | number>[]): string {
  const keys = Object.keys(rows[0] ?? {})
  const cell = (v: string | number) => (typeof v === 'number' ? (Number.isNaN(v) ? '' : formatNumber(v)) : v)
  return [
    `| ${keys.join(' | ')} |`,
    `| ${keys.map((k) => (typeof rows[0][k] === 'number' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${keys.map((k) => cell(r[k])).join(' | ')} |`),
  ].join('\n')
}
