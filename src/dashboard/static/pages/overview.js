// Overview: tasks succeeded and failed per second, runtime percentiles, queue depth over time.
import { html, useData, useEffect, get } from '../lib.js'
import { Chart } from '../chart.js'
import { percentileNote } from '../format.js'

// Three styles, not three colours only: in a second with few tasks the percentiles are the same
// value, and the lines then lie on each other; the rings still show each series.
const PERCENTILES = [
  { label: 'p50', stroke: '#3566c4', width: 2, spanGaps: true, points: { show: true, size: 5, fill: '#3566c4' } },
  { label: 'p95', stroke: '#e08a1e', width: 1.5, dash: [8, 4], spanGaps: true, points: { show: true, size: 9, width: 1.5 } },
  { label: 'p99', stroke: '#b03ab0', width: 1.5, dash: [2, 3], spanGaps: true, points: { show: true, size: 13, width: 1.5 } },
]

const depths = { t: [], queues: new Map() }

export function OverviewPage() {
  const [overview] = useData('/api/overview?span=120', (b) => b.changed > 0)
  useEffect(() => {
    const sample = () => get('/api/queues/length').then((d) => {
      depths.t.push(Date.now() / 1000)
      for (const q of d.active_queues) {
        if (!depths.queues.has(q.name)) depths.queues.set(q.name, depths.t.slice(1).map(() => null))
        depths.queues.get(q.name).push(q.messages)
      }
      for (const [, values] of depths.queues) while (values.length < depths.t.length) values.push(null)
      if (depths.t.length > 120) {
        depths.t.shift()
        for (const [, values] of depths.queues) values.shift()
      }
    }, () => {})
    sample()
    const id = setInterval(sample, 2000)
    return () => clearInterval(id)
  }, [])
  if (!overview) return html`<p>Loading…</p>`
  const s = overview.series
  const t = s.map((p) => p.t)
  const names = [...depths.queues.keys()]
  return html`
    <h1>Overview</h1>
    <dl class="facts summary">
      <dt>Workers</dt><dd id="workers-online">${overview.workers.online} online, ${overview.workers.offline} offline</dd>
      <dt>Tasks kept</dt><dd>${overview.tasks}${overview.dropped ? ` (${overview.dropped} older dropped)` : ''}</dd>
      <dt>By state</dt><dd>${Object.entries(overview.states).map(([k, v]) => `${k} ${v}`).join(' · ') || '—'}</dd>
      <dt>Events</dt><dd>${overview.events}</dd>
    </dl>
    <div class="charts">
      <${Chart} id="throughput" title="Tasks per second" window=${120} series=${[{ label: 'succeeded', stroke: '#2a9d4b' }, { label: 'failed', stroke: '#d1343a' }]} data=${[t, s.map((p) => p.succeeded), s.map((p) => p.failed)]} />
      <${Chart} id="runtime" title="Runtime (s)" window=${120} note=${percentileNote(s)} series=${PERCENTILES} data=${[t, s.map((p) => p.p50), s.map((p) => p.p95), s.map((p) => p.p99)]} />
      ${names.length > 0 ? html`<${Chart} id="queue-depth" key=${names.join(',')} title="Queue depth" series=${names.map((n, i) => ({ label: n, stroke: ['#3566c4', '#2a9d4b', '#e08a1e', '#b03ab0', '#d1343a'][i % 5] }))} data=${[[...depths.t], ...names.map((n) => [...depths.queues.get(n)])]} />` : null}
    </div>`
}
