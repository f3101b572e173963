// Shared pieces of the dashboard's pages: preact + htm, the API client, the live stream.
import { h, render } from '../vendor/preact.mjs'
import { useEffect, useRef, useState, useCallback } from '../vendor/hooks.mjs'
import htm from '../vendor/htm.mjs'

export const html = htm.bind(h)
export { render, useEffect, useRef, useState, useCallback }

const body = document.body
export const prefix = body.dataset.prefix ?? ''
export const readOnly = body.dataset.readOnly === 'true'

/** GET a JSON API path; throws with the server's error message. */
export async function get(path) {
  const response = await fetch(prefix + path, { headers: { accept: 'application/json' } })
  const data = await response.json().catch(() => ({}))
  if (!response.ok) throw new Error(data.error ?? `${response.status} ${response.statusText}`)
  return data
}

/** POST an action; resolves to the server's JSON (with `error` on a refusal). */
export async function act(path, payload = {}) {
  const response = await fetch(prefix + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) })
  const data = await response.json().catch(() => ({}))
  if (!response.ok) throw new Error(data.error ?? `${response.status} ${response.statusText}`)
  return data
}

// One EventSource per tab; pages subscribe to its batches.
const listeners = new Set()
let source
export const live = { connected: false, events: 0 }
function connect() {
  source = new EventSource(prefix + '/api/events')
  source.addEventListener('hello', (e) => {
    live.connected = true
    live.events = JSON.parse(e.data).events
    for (const l of listeners) l({ hello: true, tasks: [], workers: [], changed: 0 })
  })
  source.addEventListener('batch', (e) => {
    const batch = JSON.parse(e.data)
    live.events = batch.events
    for (const l of listeners) l(batch)
  })
  source.onerror = () => (live.connected = false)
}

/** Calls `fn(batch)` on every live batch while the component is mounted. */
export function useLive(fn) {
  const ref = useRef(fn)
  ref.current = fn
  useEffect(() => {
    if (!source) connect()
    const l = (batch) => ref.current(batch)
    listeners.add(l)
    return () => listeners.delete(l)
  }, [])
}

/**
 * Loads `path` now and again on each live batch that `when(batch)` accepts (one request in
 * flight at most; a batch that comes meanwhile asks for one more). Returns [data, error, reload].
 */
export function useData(path, when = () => true, deps = []) {
  const [data, setData] = useState(undefined)
  const [error, setError] = useState(undefined)
  const state = useRef({ busy: false, again: false, path })
  state.current.path = path
  const load = useCallback(async () => {
    const s = state.current
    if (s.busy) return void (s.again = true)
    s.busy = true
    try {
      do {
        s.again = false
        const requested = s.path
        try {
          const value = await get(requested)
          if (requested === state.current.path) {
            setData(value)
            setError(undefined)
          }
        } catch (e) {
          setError(e.message)
        }
      } while (s.again)
    } finally {
      s.busy = false
    }
  }, [])
  useEffect(() => {
    setData(undefined)
    load()
  }, [path, ...deps])
  useLive((batch) => {
    if (batch.hello || when(batch)) load()
  })
  return [data, error, load]
}

export function ago(ms) {
  if (ms === undefined || ms === null) return '—'
  const s = Math.max(0, (Date.now() - ms) / 1000)
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return `${(s / 3600).toFixed(1)} h ago`
}
export function time(ms) {
  if (ms === undefined || ms === null) return '—'
  const d = new Date(ms)
  return d.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0')
}
export function duration(s) {
  if (s === undefined || s === null) return '—'
  if (s < 1) return `${(s * 1000).toFixed(1)} ms`
  if (s < 120) return `${s.toFixed(2)} s`
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`
}
export function bytes(kb) {
  if (kb === undefined || kb === null) return '—'
  return kb > 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)} GiB` : `${(kb / 1024).toFixed(1)} MiB`
}

export function State({ state }) {
  return html`<span class=${'state state-' + String(state).toLowerCase()}>${state}</span>`
}

/** A message line for what an action did (or why it failed). */
export function useNotice() {
  const [notice, setNotice] = useState(undefined)
  const run = async (what, fn) => {
    try {
      const result = await fn()
      setNotice({ ok: true, text: `${what}: ${result.message ?? 'done'}` })
      return result
    } catch (e) {
      setNotice({ ok: false, text: `${what}: ${e.message}` })
    }
  }
  const view = notice ? html`<p class=${notice.ok ? 'notice ok' : 'notice error'} role="status">${notice.text}</p>` : null
  return [view, run]
}

export function link(hash) {
  return '#' + hash
}
