// The comparison bench's chart: horizontal bars (median) with min-max whiskers, one panel per
// measure, as a standalone SVG written by hand (no dependency).
import { formatNumber } from './stats.js'

/** One contender's figure in a panel; `note` instead of a figure when it has none. */
export interface Bar {
  label: string
  /** Picks the colour (the system). */
  group: string
  median?: number
  min?: number
  max?: number
  note?: string
}

/** One measure. */
export interface Panel {
  title: string
  bars: Bar[]
}

const WIDTH = 900
const LABEL = 300
const PLOT = 480
const ROW = 22
const BAR = 14
const HEAD = 28
const GAP = 14
const PALETTE = ['#2f7d5b', '#c8553d', '#3d6fc8', '#8a5cc2', '#b08a1e']

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const fixed = (n: number) => Number(n.toFixed(1))

/**
 * An SVG bar chart: a title, a subtitle (date, machine) and the panels stacked, each scaled to
 * its largest figure, with a legend of the groups.
 * @example
 * writeFileSync('chart.svg', barChart({ title: 'tasks/s', subtitle: '2026-11-20', panels }))
 */
export function barChart(options: { title: string; subtitle: string; panels: Panel[] }): string {
  const groups = [...new Set(options.panels.flatMap((p) => p.bars.map((b) => b.group)))]
  const colour = (group: string) => PALETTE[groups.indexOf(group) % PALETTE.length]
  const out: string[] = []
  let y = 78
  out.push(`<text x="16" y="26" class="title">${escape(options.title)}</text>`)
  out.push(`<text x="16" y="46" class="sub">${escape(options.subtitle)}</text>`)
  groups.forEach((group, i) => {
    const x = 16 + i * 110
    out.push(`<rect x="${x}" y="56" width="12" height="12" fill="${colour(group)}"/><text x="${x + 16}" y="67" class="label">${escape(group)}</text>`)
  })
  for (const panel of options.panels) {
    out.push(`<text x="16" y="${y + 18}" class="head">${escape(panel.title)}</text>`)
    y += HEAD
    const top = Math.max(...panel.bars.map((b) => b.max ?? b.median ?? 0), Number.MIN_VALUE)
    const scale = (v: number) => fixed((v / top) * PLOT)
    for (const bar of panel.bars) {
      const mid = y + ROW / 2
      out.push(`<text x="${LABEL - 8}" y="${mid + 4}" class="label" text-anchor="end">${escape(bar.label)}</text>`)
      if (bar.median === undefined) {
        const note = bar.note ?? 'no figure'
        out.push(`<text x="${LABEL}" y="${mid + 4}" class="note">${escape(note.length > 90 ? `${note.slice(0, 89)}…` : note)}</text>`)
      } else {
        const range = bar.min !== undefined && bar.max !== undefined ? `, min ${formatNumber(bar.min)}, max ${formatNumber(bar.max)}` : ''
        out.push(`<rect class="bar" x="${LABEL}" y="${mid - BAR / 2}" width="${Math.max(scale(bar.median), 1)}" height="${BAR}" fill="${colour(bar.group)}"><title>${escape(`${bar.label}: median ${formatNumber(bar.median)}${range}`)}</title></rect>`)
        if (bar.min !== undefined && bar.max !== undefined && bar.max > bar.min) {
          const [a, b] = [LABEL + scale(bar.min), LABEL + scale(bar.max)]
          out.push(`<path class="whisker" d="M${a} ${mid}H${b}M${a} ${mid - 4}V${mid + 4}M${b} ${mid - 4}V${mid + 4}"/>`)
        }
        out.push(`<text x="${LABEL + Math.max(scale(bar.median), scale(bar.max ?? 0)) + 6}" y="${mid + 4}" class="value">${formatNumber(bar.median)}</text>`)
      }
      y += ROW
    }
    y += GAP
  }
  const style = [
    'text{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;fill:#222}',
    '.title{font-size:17px;font-weight:600}.sub{font-size:12px;fill:#555}.head{font-size:13px;font-weight:600}',
    '.label,.value{font-size:12px}.note{font-size:12px;fill:#888;font-style:italic}',
    '.whisker{stroke:#222;stroke-width:1;fill:none}',
  ].join('')
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y + 8}" viewBox="0 0 ${WIDTH} ${y + 8}" role="img">`,
    `<style>${style}</style>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n')
}
