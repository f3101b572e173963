// Overview: tasks succeeded and failed per second, runtime percentiles, queue depth over time.
import { html, useData, useEffect, useRef, get } from '../lib.js'
import uPlot from '../../vendor/uplot.mjs'

function Chart({ title, series, data }) {
  const box = useRef(null)
  const plot = useRef(null)
  useEffect(() => {
    if (!box.current) return
    plot.current = new uPlot({ title, width: Math.min(560, box.current.clientWidth || 560), height: 200, series: [{}, ...series] }, data, box.current)
    return () => plot.current?.destroy()
  }, [])
  useEffect(() => plot.current?.setData(data), [data])
  return html`<div class="chart" ref=${box}></div>`
}

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
      <${Chart} title="Tasks per second" series=${[{ label: 'succeeded', stroke: '#2a9d4b' }, { label: 'failed', stroke: '#d1343a' }]} data=${[t, s.map((p) => p.succeeded), s.map((p) => p.failed)]} />
      <${Chart} title="Runtime (s)" series=${[{ label: 'p50', stroke: '#3566c4', spanGaps: true }, { label: 'p95', stroke: '#e08a1e', spanGaps: true }, { label: 'p99', stroke: '#b03ab0', spanGaps: true }]} data=${[t, s.map((p) => p.p50), s.map((p) => p.p95), s.map((p) => p.p99)]} />
      ${names.length > 0 ? html`<${Chart} key=${names.join(',')} title="Queue depth" series=${names.map((n, i) => ({ label: n, stroke: ['#3566c4', '#2a9d4b', '#e08a1e', '#b03ab0', '#d1343a'][i % 5] }))} data=${[[...depths.t], ...names.map((n) => [...depths.queues.get(n)])]} />` : null}
    </div>`
}
