// Workers: every node heard from, online or not; a node's detail with its remote-control actions.
import { html, useData, useState, useEffect, ago, bytes, span, link, readOnly, act, useNotice, get } from '../lib.js'

/** Re-renders every `ms` (heartbeat ages move on), and calls `every` each `everyMs`. */
function useTick(ms, every, everyMs) {
  const [, setN] = useState(0)
  useEffect(() => {
    const id = setInterval(() => setN((n) => n + 1), ms)
    const slow = every ? setInterval(every, everyMs) : undefined
    return () => (clearInterval(id), clearInterval(slow))
  }, [])
}

/**
 * What the node runs and holds: "64 running, 2 reserved" from its heartbeats or last stats (its
 * threads run the first, the second wait for a slot or a rate limit); "66 in flight" for a node
 * of an earlier version before its first stats (its heartbeats count both in `active`).
 */
function tasks(w) {
  if (w.running === undefined || w.running === null) return `${w.active} in flight`
  return w.reserved > 0 ? `${w.running} running, ${w.reserved} reserved` : `${w.running} running`
}

/** Running tasks over slots: "100 % (64 slots)". */
function load(w) {
  if (w.load === undefined || w.load === null) return '—'
  return `${Math.round(w.load * 100)} %${w.slots ? ` (${w.slots} slots)` : ''}`
}

export function WorkersPage() {
  const [workers, error, reload] = useData('/api/workers', (b) => b.workers.length > 0)
  // Stats (pid, threads, RSS, queues) come from `inspect stats`: asked on load and every 10 s.
  const refresh = () => get('/api/workers?refresh=1').then(reload, () => {})
  useEffect(() => void refresh(), [])
  useTick(1000, refresh, 10_000)
  if (error) return html`<p class="notice error">${error}</p>`
  if (!workers) return html`<p>Loading…</p>`
  const rows = Object.values(workers).sort((a, b) => a.hostname.localeCompare(b.hostname))
  return html`
    <h1>Workers <small>${rows.filter((w) => w.status === 'online').length} online, ${rows.filter((w) => w.status === 'offline').length} offline</small></h1>
    <table class="grid" id="workers">
      <thead><tr><th>Worker</th><th>Status</th><th>Heartbeat</th><th>PID</th><th>Threads</th><th>Tasks</th><th>Processed</th><th title="running tasks over slots (threads × tasks per thread)">Load</th><th>RSS</th><th>Queues</th><th>Uptime</th></tr></thead>
      <tbody>
        ${rows.length === 0 ? html`<tr><td colspan="11" class="empty">No worker heard from yet.</td></tr>` : null}
        ${rows.map((w) => html`
          <tr data-worker=${w.hostname} class=${'worker-' + w.status}>
            <td><a href=${link('/worker/' + encodeURIComponent(w.hostname))}>${w.hostname}</a></td>
            <td><span class=${'badge ' + w.status}>${w.status}</span></td>
            <td>${ago(w.lastHeartbeat)}</td>
            <td>${w.pid ?? '—'}</td>
            <td>${w.threads ?? '—'}${w.held ? ` (${w.held} held)` : ''}</td>
            <td class="tasks">${tasks(w)}</td>
            <td>${w.processed}</td>
            <td class="load">${load(w)}</td>
            <td>${bytes(w.rssKb)}</td>
            <td>${(w.queues ?? []).join(', ') || '—'}</td>
            <td class="uptime">${w.status === 'online' ? span(w.uptime ?? (Date.now() - w.firstSeen) / 1000) : '—'}</td>
          </tr>`)}
      </tbody>
    </table>`
}

export function WorkerPage({ name }) {
  const [worker, error, reload] = useData('/api/worker/' + encodeURIComponent(name), (b) => b.workers.some((w) => w.hostname === name))
  const [notice, run] = useNotice()
  const [grow, setGrow] = useState('1')
  const [queue, setQueue] = useState('')
  const [task, setTask] = useState('')
  const [rate, setRate] = useState('')
  const [soft, setSoft] = useState('')
  const [hard, setHard] = useState('')
  if (error) return html`<p class="notice error">${error}</p>`
  if (!worker) return html`<p>Loading…</p>`
  const target = encodeURIComponent(name)
  const doit = (what, path, payload) => run(what, () => act(path, payload)).then(() => reload())
  return html`
    <h1>${worker.hostname} <span class=${'badge ' + worker.status}>${worker.status}</span></h1>
    <dl class="facts">
      <dt>Heartbeat</dt><dd>${ago(worker.lastHeartbeat)} (every ${worker.freq} s)</dd>
      <dt>PID</dt><dd>${worker.pid ?? '—'}</dd>
      <dt>Threads</dt><dd>${worker.threads ?? '—'}${worker.tasksPerThread ? ` × ${worker.tasksPerThread} tasks each = ${worker.slots} slots` : ''}${worker.held ? ` (${worker.held} held by a task: it gets no new task meanwhile)` : ''}</dd>
      <dt>Tasks</dt><dd id="worker-tasks">${tasks(worker)}${worker.reserved > 0 ? ' (reserved: received, waiting for a slot or a rate limit)' : ''}</dd>
      <dt>Load</dt><dd>${load(worker)}</dd>
      <dt>Processed</dt><dd>${worker.processed}</dd>
      <dt>RSS</dt><dd>${bytes(worker.rssKb)}</dd>
      <dt>Queues</dt><dd>${(worker.queues ?? []).join(', ') || '—'}</dd>
      <dt>Uptime</dt><dd id="worker-uptime">${span(worker.uptime)}</dd>
      <dt>Software</dt><dd>${worker.swIdent} ${worker.swVer} (${worker.swSys})</dd>
    </dl>
    ${notice}
    ${readOnly ? null : html`
      <section class="actions" aria-label="actions">
        <h2>Actions</h2>
        <form onSubmit=${(e) => (e.preventDefault(), doit('pool grow', `/api/worker/pool/grow/${target}`, { n: Number(grow) }))}>
          <label>Threads <input type="number" min="1" max="64" value=${grow} onInput=${(e) => setGrow(e.target.value)} /></label>
          <button type="submit">Grow pool</button>
          <button type="button" onClick=${() => doit('pool shrink', `/api/worker/pool/shrink/${target}`, { n: Number(grow) })}>Shrink pool</button>
        </form>
        <form onSubmit=${(e) => (e.preventDefault(), doit('add consumer', `/api/worker/queue/add-consumer/${target}`, { queue }))}>
          <label>Queue <input value=${queue} onInput=${(e) => setQueue(e.target.value)} /></label>
          <button type="submit">Add consumer</button>
          <button type="button" onClick=${() => doit('cancel consumer', `/api/worker/queue/cancel-consumer/${target}`, { queue })}>Cancel consumer</button>
        </form>
        <form onSubmit=${(e) => (e.preventDefault(), doit('rate limit', `/api/task/rate-limit/${encodeURIComponent(task)}`, { ratelimit: rate, workername: name }))}>
          <label>Task <input list="registered" value=${task} onInput=${(e) => setTask(e.target.value)} /></label>
          <label>Rate <input placeholder="10/m" value=${rate} onInput=${(e) => setRate(e.target.value)} /></label>
          <button type="submit">Set rate limit</button>
          <label>Soft s <input type="number" value=${soft} onInput=${(e) => setSoft(e.target.value)} /></label>
          <label>Hard s <input type="number" value=${hard} onInput=${(e) => setHard(e.target.value)} /></label>
          <button type="button" onClick=${() => doit('time limit', `/api/task/timeout/${encodeURIComponent(task)}`, { soft, hard, workername: name })}>Set time limits</button>
        </form>
        <datalist id="registered">${(worker.registered ?? []).map((n) => html`<option value=${n} />`)}</datalist>
        <button class="danger" onClick=${() => confirm(`Shut down ${name}? Running tasks finish first.`) && doit('shutdown', `/api/worker/shutdown/${target}`)}>Shut down</button>
      </section>`}
    <h2>Running tasks</h2>
    <ul>${(worker.activeTasks ?? []).length === 0 ? html`<li class="empty">none</li>` : null}
      ${(worker.activeTasks ?? []).map((t) => html`<li><a href=${link('/task/' + encodeURIComponent(t.id))}>${t.name}[${t.id}]</a></li>`)}</ul>
    ${(worker.reservedTasks ?? []).length > 0 ? html`
      <h2>Reserved tasks</h2>
      <ul>${worker.reservedTasks.map((t) => html`<li><a href=${link('/task/' + encodeURIComponent(t.id))}>${t.name}[${t.id}]</a></li>`)}</ul>` : null}
    <h2>Registered tasks</h2>
    <ul class="columns">${(worker.registered ?? []).map((n) => html`<li>${n}</li>`)}</ul>`
}
