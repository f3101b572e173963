// The dashboard's single page: a header, and the page the location hash names.
import { html, render, useEffect, useState, health, clock, readOnly } from './lib.js'
import { WorkersPage, WorkerPage } from './pages/workers.js'
import { TasksPage } from './pages/tasks.js'
import { TaskPage } from './pages/task.js'
import { QueuesPage } from './pages/queues.js'
import { BeatPage } from './pages/beat.js'
import { OverviewPage } from './pages/overview.js'

function route(hash) {
  const [path, query = ''] = hash.replace(/^#/, '').split('?')
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent)
  return { page: parts[0] ?? 'overview', arg: parts[1], params: new URLSearchParams(query) }
}

const HEALTH_TEXT = { connecting: '○ connecting', live: '● live', reconnecting: '● reconnecting', failing: '● server errors', 'broker-down': '● broker unreachable' }

/** Says whether the page is current; when not, since when what it shows is stale, and why. */
function Health({ status }) {
  const stale = status.since === undefined ? '' : ` · stale since ${clock(status.since)}`
  return html`<span class=${'live ' + status.state} role="status" title=${status.reason || 'live updates'}>${HEALTH_TEXT[status.state]}${stale}</span>`
}

function App() {
  const [where, setWhere] = useState(route(location.hash))
  const [status, setStatus] = useState(health.status())
  useEffect(() => {
    const onHash = () => setWhere(route(location.hash))
    addEventListener('hashchange', onHash)
    const timer = setInterval(() => setStatus(health.status()), 500)
    return () => {
      removeEventListener('hashchange', onHash)
      clearInterval(timer)
    }
  }, [])
  const pages = [['overview', 'Overview'], ['workers', 'Workers'], ['tasks', 'Tasks'], ['queues', 'Queues'], ['beat', 'Beat']]
  const active = where.page === 'worker' ? 'workers' : where.page === 'task' ? 'tasks' : where.page
  let page
  switch (where.page) {
    case 'workers': page = html`<${WorkersPage} />`; break
    case 'worker': page = html`<${WorkerPage} name=${where.arg} />`; break
    case 'tasks': page = html`<${TasksPage} params=${where.params} />`; break
    case 'task': page = html`<${TaskPage} id=${where.arg} />`; break
    case 'queues': page = html`<${QueuesPage} />`; break
    case 'beat': page = html`<${BeatPage} />`; break
    default: page = html`<${OverviewPage} />`
  }
  return html`
    <header>
      <strong class="brand">celeriac</strong>
      <nav>${pages.map(([id, label]) => html`<a href=${'#/' + id} class=${active === id ? 'active' : ''}>${label}</a>`)}</nav>
      <${Health} status=${status} />${readOnly ? html`<span class="read-only">read-only</span>` : null}
    </header>
    <main>${page}</main>`
}

render(html`<${App} />`, document.getElementById('app'))
