// Task detail: arguments, result or error with its traceback, the state timeline, retries,
// the canvas around it, and the actions.
import { html, useData, useRef, time, duration, link, readOnly, act, useNotice, State } from '../lib.js'

// Box sizes of the canvas graph, in CSS pixels.
const W = 180, H = 44, GAP_X = 48, GAP_Y = 12

function Graph({ graph }) {
  // The task's canvas (GET /api/task/graph/:id): one column per depth from the root, parent →
  // child edges drawn in an SVG under absolutely placed links.
  if (!graph || graph.nodes.length <= 1) return html`<p class="empty">No other task of its canvas is known.</p>`
  const columns = []
  for (const node of graph.nodes) (columns[node.depth] ??= []).push(node)
  const at = new Map()
  columns.forEach((column, depth) => column.forEach((node, row) => at.set(node.id, { x: depth * (W + GAP_X), y: row * (H + GAP_Y) })))
  const width = columns.length * (W + GAP_X) - GAP_X
  const height = Math.max(...columns.map((column) => column.length)) * (H + GAP_Y) - GAP_Y
  return html`<div>
    ${graph.truncated ? html`<p class="notice">Showing ${graph.nodes.length} of the ${graph.total} tasks of this canvas.</p>` : null}
    <div class="canvas-graph" id="canvas-graph" style=${{ width: width + 'px', height: height + 'px' }}>
      <svg width=${width} height=${height} aria-hidden="true">
        ${graph.edges.map((e) => {
          const from = at.get(e.from), to = at.get(e.to)
          const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2
          return html`<path d=${`M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`} />`
        })}
      </svg>
      ${graph.nodes.map((node) => html`<a class=${'gnode state-' + String(node.state).toLowerCase() + (node.id === graph.id ? ' self' : '')}
          data-id=${node.id} title=${node.id} href=${link('/task/' + encodeURIComponent(node.id))}
          style=${{ left: at.get(node.id).x + 'px', top: at.get(node.id).y + 'px', width: W + 'px', height: H + 'px' }}>
        <span class="gname">${node.name ?? '?'}</span><span class="gstate">${node.state}</span></a>`)}
    </div>
  </div>`
}

export function TaskPage({ id }) {
  // Reloaded when this task or a task of its canvas changed (a new chain step is sent when its
  // parent, already drawn, succeeds).
  const drawn = useRef(new Set())
  const [task, error, reload] = useData('/api/task/info/' + encodeURIComponent(id), (b) => b.tasks.some((t) => t === id || drawn.current.has(t)))
  drawn.current = new Set(task?.graph?.nodes.map((n) => n.id) ?? [])
  const [notice, run] = useNotice()
  if (error) return html`<p class="notice error">${error}</p>`
  if (!task) return html`<p>Loading…</p>`
  const target = encodeURIComponent(id)
  const ready = ['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED'].includes(task.state)
  return html`
    <h1>${task.name ?? 'task'} <${State} state=${task.state} /></h1>
    <p class="mono">${task.id}${task.source === 'backend' ? ' (from the result backend: no longer in the dashboard\u2019s memory)' : ''}</p>
    ${notice}
    ${readOnly ? null : html`<section class="actions" aria-label="actions">
      <button id="revoke" disabled=${ready} onClick=${() => run('revoke', () => act(`/api/task/revoke/${target}`)).then(reload)}>Revoke</button>
      <button id="terminate" class="danger" disabled=${ready} onClick=${() => run('terminate', () => act(`/api/task/revoke/${target}`, { terminate: true })).then(reload)}>Terminate</button>
      <button id="retry" onClick=${() => run('retry', () => act(`/api/task/retry/${target}`)).then((r) => r && (location.hash = '#/task/' + encodeURIComponent(r['task-id'])))}>Send again</button>
    </section>`}
    <dl class="facts">
      <dt>Args</dt><dd class="mono" id="args">${task.args ?? '—'}</dd>
      <dt>Kwargs</dt><dd class="mono">${task.kwargs ?? '—'}</dd>
      <dt>Result</dt><dd class="mono" id="result">${task.result ?? '—'}</dd>
      ${task.exception ? html`<dt>Exception</dt><dd class="mono" id="exception">${task.exception}</dd>` : null}
      <dt>Worker</dt><dd>${task.worker ? html`<a href=${link('/worker/' + encodeURIComponent(task.worker))}>${task.worker}</a>` : '—'}</dd>
      <dt>Queue</dt><dd>${task.queue ?? '—'}</dd>
      <dt>Retries</dt><dd>${task.retries}</dd>
      <dt>Runtime</dt><dd>${duration(task.runtime)}</dd>
      <dt>ETA / expires</dt><dd>${time(task.eta)} / ${time(task.expires)}</dd>
      <dt>Root</dt><dd class="mono">${task.rootId && task.rootId !== task.id ? html`<a href=${link('/task/' + encodeURIComponent(task.rootId))}>${task.rootId}</a>` : '—'}</dd>
    </dl>
    ${task.traceback ? html`<h2>Traceback</h2><pre id="traceback">${task.traceback}</pre>` : null}
    <h2>Timeline</h2>
    <table class="grid" id="timeline">
      <thead><tr><th>Time</th><th>State</th><th>Event</th><th>Node</th><th>Detail</th></tr></thead>
      <tbody>${task.timeline.length === 0 ? html`<tr><td colspan="5" class="empty">No events kept for this task.</td></tr>` : null}
        ${task.timeline.map((e) => html`<tr><td>${time(e.timestamp)}</td><td><${State} state=${e.state} /></td><td>${e.type}</td><td>${e.hostname}</td><td class="mono">${e.exception ?? ''}</td></tr>`)}
      </tbody>
    </table>
    <h2>Canvas</h2>
    <${Graph} graph=${task.graph} />`
}
