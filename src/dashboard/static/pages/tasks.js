// Tasks: the live table, filtered and paged by the server. Filters live in the location hash.
import { html, useData, useState, time, duration, link, State } from '../lib.js'

const STATES = ['PENDING', 'RECEIVED', 'STARTED', 'SUCCESS', 'FAILURE', 'RETRY', 'REVOKED', 'REJECTED']
const PAGE = 25

function go(params) {
  for (const [key, value] of [...params]) if (value === '') params.delete(key)
  location.hash = '#/tasks' + (params.toString() ? '?' + params : '')
}

export function TasksPage({ params }) {
  const query = new URLSearchParams(params)
  query.set('limit', String(PAGE))
  const [data, error] = useData('/api/tasks?' + query, (b) => b.changed > 0)
  const [search, setSearch] = useState(params.get('search') ?? '')
  const offset = Number(params.get('offset') ?? 0)
  const set = (key, value) => {
    const next = new URLSearchParams(params)
    next.set(key, value)
    next.delete('offset')
    go(next)
  }
  return html`
    <h1>Tasks ${data ? html`<small>${data.total} matching</small>` : null}</h1>
    <form class="filters" onSubmit=${(e) => (e.preventDefault(), set('search', search))}>
      <input id="search" type="search" placeholder="search: text, id, name:add state:failure worker:w1" value=${search} onInput=${(e) => setSearch(e.target.value)} />
      <button type="submit">Search</button>
      <select id="state-filter" aria-label="state" value=${params.get('state') ?? ''} onChange=${(e) => set('state', e.target.value)}>
        <option value="">any state</option>
        ${STATES.map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      <input id="name-filter" placeholder="task name" value=${params.get('name') ?? ''} onChange=${(e) => set('name', e.target.value)} />
      <input id="worker-filter" placeholder="worker" value=${params.get('worker') ?? ''} onChange=${(e) => set('worker', e.target.value)} />
      <label>since <input id="since-filter" type="datetime-local" value=${params.get('received_start') ?? ''} onChange=${(e) => set('received_start', e.target.value)} /></label>
      <a href="#/tasks">clear</a>
    </form>
    ${error ? html`<p class="notice error">${error}</p>` : null}
    <table class="grid" id="tasks">
      <thead><tr><th>State</th><th>Name</th><th>UUID</th><th>Args</th><th>Result</th><th>Worker</th><th>Received</th><th>Started</th><th>Runtime</th></tr></thead>
      <tbody>
        ${data && data.tasks.length === 0 ? html`<tr><td colspan="9" class="empty">No task matches.</td></tr>` : null}
        ${(data?.tasks ?? []).map((t) => html`
          <tr data-task=${t.id}>
            <td><${State} state=${t.state} /></td>
            <td>${t.name ?? '—'}</td>
            <td class="mono"><a href=${link('/task/' + encodeURIComponent(t.id))}>${t.id}</a></td>
            <td class="mono clip" title=${t.args}>${t.args ?? ''}${t.kwargs && t.kwargs !== '{}' ? ' ' + t.kwargs : ''}</td>
            <td class="mono clip" title=${t.result ?? t.exception}>${t.result ?? t.exception ?? ''}</td>
            <td>${t.worker ?? '—'}</td>
            <td>${time(t.received)}</td>
            <td>${time(t.started)}</td>
            <td>${duration(t.runtime)}</td>
          </tr>`)}
      </tbody>
    </table>
    ${data ? html`<nav class="pager">
      <button disabled=${offset === 0} onClick=${() => { const n = new URLSearchParams(params); n.set('offset', String(Math.max(0, offset - PAGE))); go(n) }}>← newer</button>
      <span>${data.total === 0 ? 0 : offset + 1}–${Math.min(offset + PAGE, data.total)} of ${data.total}</span>
      <button disabled=${offset + PAGE >= data.total} onClick=${() => { const n = new URLSearchParams(params); n.set('offset', String(offset + PAGE)); go(n) }}>older →</button>
    </nav>` : null}`
}
