// The comparison bench's figures, side by side: summaries per contender and measure, celeriac's
// ratio to every peer configuration, the project's goals, and their text forms.
import { summarize, table, formatNumber } from './stats.js'
import type { Bar, Panel } from './chart.js'
import type { Measures, Workload } from './peers/plan.js'

/** The figures a client reports, what they mean, and which way is better. */
export const MEASURES = {
  throughput: { title: 'End to end: no-op tasks with results', unit: 'tasks/s', better: 'higher' },
  throughputCold: { title: 'End to end, first pass after start (cold)', unit: 'tasks/s', better: 'higher' },
  p50: { title: 'Round trip, one task at a time: p50', unit: 'ms', better: 'lower' },
  p99: { title: 'Round trip, one task at a time: p99', unit: 'ms', better: 'lower' },
  enqueue: { title: 'Enqueue, no worker consuming', unit: 'tasks/s', better: 'higher' },
  io: { title: 'I/O-bound tasks (each awaits a 20 ms timer), end to end', unit: 'tasks/s', better: 'higher' },
  cpu: { title: 'CPU-bound tasks (5 ms of SHA-256) at concurrency 2', unit: 'tasks/s', better: 'higher' },
  chord: { title: 'Chord: members then a sum', unit: 'ms', better: 'lower' },
} as const satisfies Record<string, { title: string; unit: string; better: 'higher' | 'lower' }>
export type Measure = keyof typeof MEASURES
const measureNames = Object.keys(MEASURES) as Measure[]

/** One contender's figure for one measure over the runs, or why there is none. */
export interface Row {
  system: string
  config: string
  measure: Measure
  median?: number
  min?: number
  max?: number
  runs?: number[]
  note?: string
}

/** How many times better celeriac's median is than a peer's (above 1: celeriac is better). */
export interface Ratio {
  measure: Measure
  celeriac: string
  peer: string
  times: number
}

/** One contender's measures over its runs, and why it stopped if it failed. */
export interface Samples {
  system: string
  config: string
  workloads: readonly Workload[]
  runs: Measures[]
  failure?: string
}

const workloadOf = (measure: Measure): Workload => (measure === 'p50' || measure === 'p99' ? 'roundTrip' : measure === 'throughputCold' ? 'throughput' : measure)

/**
 * A row per contender and measure of its workloads, in the order of `MEASURES`: the summary of
 * its runs, or the reason it has no figure (unavailable, or the contender failed).
 */
export function rows(samples: Samples[]): Row[] {
  const out: Row[] = []
  for (const measure of measureNames) {
    for (const { system, config, workloads, runs, failure } of samples) {
      if (!workloads.includes(workloadOf(measure))) continue
      const values = runs.map((m) => m[measure]).filter((v): v is number => v !== undefined)
      const unavailable = runs.map((m) => m.unavailable?.[workloadOf(measure)]).find((reason) => reason !== undefined)
      if (values.length > 0) out.push({ system, config, measure, ...summarize(values) })
      else out.push({ system, config, measure, note: unavailable ?? (failure ? `failed: ${failure}` : 'no figure') })
    }
  }
  return out
}

/** celeriac's ratio to each peer configuration, per measure, from medians of the same session. */
export function ratios(all: Row[]): Ratio[] {
  const out: Ratio[] = []
  for (const ours of all.filter((r) => r.system === 'celeriac' && r.median !== undefined)) {
    for (const peer of all.filter((r) => r.system !== 'celeriac' && r.measure === ours.measure && r.median !== undefined)) {
      const times = MEASURES[ours.measure].better === 'higher' ? ours.median! / peer.median! : peer.median! / ours.median!
      out.push({ measure: ours.measure, celeriac: ours.config, peer: `${peer.system} ${peer.config}`, times })
    }
  }
  return out
}

/** A goal of the project, checked against this session's medians. */
export interface Goal {
  goal: string
  met: boolean | undefined
  detail: string
}

/**
 * The goals of issue 16, for celeriac on NATS with stored results at its defaults
 * (`celeriacConfig`) and at equal in-flight (`equalConfig`): end to end at least 1.5x BullMQ's
 * best and 10x Celery's, at least 0.75x the raw JetStream ceiling, round trip p50 within 1.5x
 * the raw one and p99 under 3 ms, I/O-bound at least BullMQ's best, CPU-bound no worse.
 */
export function goals(all: Row[], celeriacConfig: string, equalConfig?: string): Goal[] {
  const figure = (config: string, measure: Measure) => all.find((r) => r.system === 'celeriac' && r.config === config && r.measure === measure)?.median
  const ours = (measure: Measure) => figure(celeriacConfig, measure)
  const best = (system: string, measure: Measure) => {
    const medians = all.filter((r) => r.system === system && r.measure === measure && r.median !== undefined).map((r) => r.median!)
    if (medians.length === 0) return undefined
    return MEASURES[measure].better === 'higher' ? Math.max(...medians) : Math.min(...medians)
  }
  const check = (goal: string, a: number | undefined, b: number | undefined, test: (a: number, b: number) => boolean, unit: string): Goal =>
    a === undefined || b === undefined
      ? { goal, met: undefined, detail: 'not measured in this session' }
      : { goal, met: test(a, b), detail: `${formatNumber(a)} vs ${formatNumber(b)} ${unit}` }
  const out: Goal[] = []
  for (const [peer, factor] of [['BullMQ', 1.5], ['Celery', 10]] as const) {
    out.push(check(`end to end at the defaults >= ${factor}x ${peer}'s best`, ours('throughput'), best(peer, 'throughput'), (a, b) => a >= factor * b, 'tasks/s'))
  }
  if (equalConfig) out.push(check(`end to end at 50 in flight >= 1.5x BullMQ's best`, figure(equalConfig, 'throughput'), best('BullMQ', 'throughput'), (a, b) => a >= 1.5 * b, 'tasks/s'))
  out.push(check('end to end at the defaults >= 0.75x the raw JetStream ceiling', ours('throughput'), best('JetStream', 'throughput'), (a, b) => a >= 0.75 * b, 'tasks/s'))
  out.push(check('round trip p50 <= 1.5x the raw JetStream round trip', ours('p50'), best('JetStream', 'p50'), (a, b) => a <= 1.5 * b, 'ms'))
  const p99 = ours('p99')
  out.push(p99 === undefined ? { goal: 'round trip p99 < 3 ms', met: undefined, detail: 'not measured in this session' } : { goal: 'round trip p99 < 3 ms', met: p99 < 3, detail: `${formatNumber(p99)} ms` })
  out.push(check("I/O-bound at the defaults >= BullMQ's best", ours('io'), best('BullMQ', 'io'), (a, b) => a >= b, 'tasks/s'))
  out.push(check("CPU-bound at the defaults >= BullMQ's best (no regression)", ours('cpu'), best('BullMQ', 'cpu'), (a, b) => a >= b, 'tasks/s'))
  return out
}

/** The chart's panels: one per measure, a bar per contender. */
export function panels(all: Row[]): Panel[] {
  return measureNames
    .map((measure) => ({
      title: `${MEASURES[measure].title} (${MEASURES[measure].unit}, ${MEASURES[measure].better} is better)`,
      bars: all.filter((r) => r.measure === measure).map((r): Bar => ({ label: `${r.system} ${r.config}`, group: r.system, median: r.median, min: r.min, max: r.max, note: r.note })),
    }))
    .filter((panel) => panel.bars.length > 0)
}

/** The figures as a plain-text table, for stdout. */
export function textTable(all: Row[]): string {
  return table(all.map((r) => ({
    measure: `${r.measure} (${MEASURES[r.measure].unit})`,
    system: r.system,
    configuration: r.config,
    median: r.median ?? r.note ?? '',
    min: r.min ?? '',
    max: r.max ?? '',
  })))
}

/** celeriac's ratios as a plain-text table, for stdout. */
export function ratioTable(all: Ratio[]): string {
  return table(all.map((r) => ({ measure: r.measure, celeriac: r.celeriac, 'vs peer': r.peer, 'x better': `${r.times.toFixed(2)}x` })))
}

const mdRow = (cells: (string | number)[]) => `| ${cells.map((c) => (typeof c === 'number' ? formatNumber(c) : c)).join(' | ')} |`

/** The figures, ratios and goals as Markdown tables, for BENCHMARKS.md. */
export function markdown(all: Row[], ratioRows: Ratio[], goalRows: Goal[]): string {
  const figures = [
    mdRow(['measure', 'system', 'configuration', 'median', 'min', 'max']),
    mdRow(['---', '---', '---', '---:', '---:', '---:']),
    ...all.map((r) => mdRow([`${MEASURES[r.measure].title} (${MEASURES[r.measure].unit})`, r.system, r.config, r.median ?? r.note ?? '', r.min ?? '', r.max ?? ''])),
  ]
  const times = [
    mdRow(['measure', 'celeriac', 'vs', 'celeriac is ... better']),
    mdRow(['---', '---', '---', '---:']),
    ...ratioRows.map((r) => mdRow([r.measure, r.celeriac, r.peer, `${r.times.toFixed(2)}x`])),
  ]
  const goalLines = goalRows.map((g) => `- ${g.met === undefined ? 'not measured' : g.met ? 'met' : 'NOT met'}: ${g.goal} (${g.detail})`)
  return [...figures, '', ...times, '', ...goalLines].join('\n')
}

/**
 * The README's summary: per measure, celeriac at its defaults and at 50 in flight beside the raw
 * JetStream ceiling and each peer's best configuration (its name in the cell), with ratios.
 */
export function readmeTable(all: Row[], defaults: string, equal: string): string {
  const median = (system: string, config: string, measure: Measure) => all.find((r) => r.system === system && r.config === config && r.measure === measure)?.median
  const best = (system: string, measure: Measure) => {
    const mine = all.filter((r) => r.system === system && r.measure === measure && r.median !== undefined)
    if (mine.length === 0) return undefined
    return mine.reduce((a, b) => ((MEASURES[measure].better === 'higher' ? b.median! > a.median! : b.median! < a.median!) ? b : a))
  }
  const lines = [
    '| measure | celeriac, defaults | celeriac, 50 in flight | raw JetStream | BullMQ, best | Celery, best |',
    '|---|---:|---:|---:|---:|---:|',
  ]
  for (const measure of ['throughput', 'throughputCold', 'p50', 'p99', 'io', 'cpu', 'chord'] as const) {
    const ours = median('celeriac', `NATS + KV results, ${defaults}`, measure)
    if (ours === undefined) continue
    const cell = (row: Row | undefined) => {
      if (row === undefined) return ''
      const times = MEASURES[measure].better === 'higher' ? ours / row.median! : row.median! / ours
      // The ceiling has one configuration: its name is in the column's title.
      return `${formatNumber(row.median!)} (${row.system === 'JetStream' ? '' : `${row.config}; `}celeriac ${times.toFixed(2)}x)`
    }
    const eq = median('celeriac', equal, measure)
    lines.push(`| ${MEASURES[measure].title} (${MEASURES[measure].unit}) | ${formatNumber(ours)} | ${eq === undefined ? '' : formatNumber(eq)} | ${cell(best('JetStream', measure))} | ${cell(best('BullMQ', measure))} | ${cell(best('Celery', measure))} |`)
  }
  return lines.join('\n')
}
