// Queues: what the broker holds for each queue, and each queue's dead letters with replay.
import { html, useData, useState, useEffect, time, readOnly, act, get, useNotice } from '../lib.js'

function age(s) {
  if (s === null || s === undefined) return '—'
  return s < 120 ? `${s.toFixed(1)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`
}

function DeadLetters({ queue, onReplay }) {
  const [letters, setLetters] = useState(undefined)
  const [notice, run] = useNotice()
  const load = () => get(`/api/queues/${encodeURIComponent(queue)}/dead-letters`).then((d) => setLetters(d.deadLetters))
  useEffect(() => void load(), [queue])
  if (!letters) return html`<p>Loading…</p>`
  return html`<div class="dead">
    <h3>Dead letters of ${queue}</h3>
    ${notice}
    ${readOnly || letters.length === 0 ? null : html`<button onClick=${() => run('replay', () => act(`/api/queues/${encodeURIComponent(queue)}/dead-letters/replay`)).then(() => (load(), onReplay()))}>Replay ${letters.length}</button>`}
    <table class="grid"><thead><tr><th>When</th><th>Task</th><th>Reason</th><th>Deliveries</th></tr></thead>
      <tbody>${letters.length === 0 ? html`<tr><td colspan="4" class="empty">none</td></tr>` : null}
        ${letters.map((l) => html`<tr><td>${time(l.at)}</td><td class="mono">${l.task ? `${l.task.name}[${l.task.id}]` : `${l.bytes} bytes`}</td><td>${l.reason}</td><td>${l.deliveryCount}</td></tr>`)}
      </tbody></table>
  </div>`
}

export function QueuesPage() {
  const [data, error, reload] = useData('/api/queues', (b) => b.changed > 0)
  const [open, setOpen] = useState(undefined)
  // The broker's figures move without events too (messages waiting): read them every 2 s.
  useEffect(() => {
    const id = setInterval(reload, 2000)
    return () => clearInterval(id)
  }, [])
  if (error) return html`<p class="notice error">${error}</p>`
  if (!data) return html`<p>Loading…</p>`
  return html`
    <h1>Queues</h1>
    <table class="grid" id="queues">
      <thead><tr><th>Queue</th><th>Ready</th><th>Delayed</th><th>In flight</th><th>Redelivered</th><th>Consumers</th><th>Oldest message</th><th>Dead letters</th></tr></thead>
      <tbody>${data.queues.map((q) => html`
        <tr data-queue=${q.name}>
          <td>${q.name}</td>
          <td class="num ready">${q.ready}</td>
          <td class="num">${q.delayed ?? '—'}</td>
          <td class="num">${q.inFlight ?? '—'}</td>
          <td class="num">${q.redelivered ?? '—'}</td>
          <td class="num">${q.consumers}</td>
          <td class="num oldest">${age(q.oldestAgeSeconds)}</td>
          <td class="num"><button class="link" onClick=${() => setOpen(open === q.name ? undefined : q.name)}>${q.deadLetters}</button></td>
        </tr>`)}
      </tbody>
    </table>
    <p class="hint">Figures from the broker. Where it does not tell delayed messages apart, they count as ready and Delayed shows —.</p>
    ${open ? html`<${DeadLetters} queue=${open} onReplay=${reload} />` : null}`
}
