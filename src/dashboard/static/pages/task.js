// Task detail: arguments, result or error with its traceback, the state timeline, retries,
// the canvas around it, and the actions.
import { html, useData, time, duration, link, readOnly, act, useNotice, State } from '../lib.js'

function Graph({ task }) {
  // Parent, this task, its children: a small left-to-right graph drawn with boxes.
  const node = (t, self) => html`<a class=${'node' + (self ? ' self' : '')} href=${link('/task/' + encodeURIComponent(t.id))}>
      <span>${t.name ?? '?'}</span><${State} state=${t.state ?? '?'} /></a>`
  if (!task.parent && task.childTasks.length === 0) return html`<p class="empty">No parent or children.</p>`
  return html`<div class="graph">
    ${task.parent ? html`<div class="col">${node(task.parent)}</div><div class="arrow">→</div>` : null}
    <div class="col">${node(task, true)}</div>
    ${task.childTasks.length > 0 ? html`<div class="arrow">→</div><div class="col">${task.childTasks.map((c) => node(c))}</div>` : null}
  </div>`
}

export function TaskPage({ id }) {
  const [task, error, reload] = useData('/api/task/info/' + encodeURIComponent(id), (b) => b.tasks.includes(id))
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
    <${Graph} task=${task} />`
}
