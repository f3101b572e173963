// Beat: the periodic tasks of the app's schedule, their last and next fire, the lease holder.
import { html, useData } from '../lib.js'

export function BeatPage() {
  const [beat, error] = useData('/api/beat', () => false)
  if (error) return html`<p class="notice error">${error}</p>`
  if (!beat) return html`<p>Loading…</p>`
  return html`
    <h1>Beat</h1>
    <p>Lease holder: <strong>${beat.leaseHolder ?? (beat.store === 'none' ? 'not shared (memory://: the beat keeps it in its process)' : 'none')}</strong></p>
    <table class="grid" id="beat">
      <thead><tr><th>Entry</th><th>Task</th><th>Schedule</th><th>Args</th><th>Last run</th><th>Runs</th><th>Next run</th></tr></thead>
      <tbody>${beat.entries.length === 0 ? html`<tr><td colspan="7" class="empty">No periodic task in this app's beatSchedule.</td></tr>` : null}
        ${beat.entries.map((e) => html`<tr>
          <td>${e.name}</td><td>${e.task}</td><td class="mono">${e.schedule}</td><td class="mono">${JSON.stringify(e.args)}</td>
          <td>${e.problem ? html`<span class="notice error">${e.problem}</span>` : e.lastRun ? new Date(e.lastRun).toLocaleString() : '—'}</td><td>${e.totalRuns ?? '—'}</td>
          <td>${e.error ? html`<span class="notice error">${e.error}</span>` : e.nextRun ? new Date(e.nextRun).toLocaleString() : '—'}</td></tr>`)}
      </tbody>
    </table>`
}
