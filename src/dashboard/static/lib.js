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
  let response
  try {
    response = await fetch(prefix + path, { headers: { accept: 'application/json' } })
  } catch (error) {
    health.failed(`${path}: ${error.message}`)
    throw error
  }
  const data = await response.json().catch(() => ({}))
  // A 4xx is about the request (a bad filter); a 5xx or no answer means what is shown is stale.
  if (response.status >= 500) health.failed(`${path}: ${data.error ?? response.status}`)
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

/** How long after the last failed request the page still says it is failing. */
const FAILING_MS = 4000
/** The server pings an idle stream every 10 s: this long without a message, it is taken for dead. */
const SILENT_MS = 25_000
/** How soon to open a new stream after the browser gave up on one (it does on a 5xx answer). */
const REOPEN_MS = 1000

/**
 * Whether what the page shows is current: the live stream is open and the API answers. The
 * header reads {@link health.status} twice a second.
 */
export const health = {
  streamOpen: false,
  everOpen: false,
  lastMessage: 0,
  lastFailure: 0,
  reason: '',
  /** When data was last known good, epoch ms: "stale since" that. */
  lastGood: undefined,
  staleSince: undefined,
  /** The dashboard server's own link to the broker, from the stream: `{ connected, since }`. */
  broker: { connected: true, since: 0 },
  failed(reason) {
    this.lastFailure = Date.now()
    this.reason = reason
  },
  /** `{ state: 'connecting' | 'live' | 'reconnecting' | 'failing' | 'broker-down', since, reason }`. */
  status(now = Date.now()) {
    let state
    if (!this.everOpen && this.lastFailure === 0) state = 'connecting'
    else if (!this.streamOpen || now - this.lastMessage > SILENT_MS) state = 'reconnecting'
    else if (!this.broker.connected) state = 'broker-down'
    else if (now - this.lastFailure < FAILING_MS) state = 'failing'
    else state = 'live'
    if (state === 'live' || state === 'connecting') this.staleSince = undefined
    // The server knows when it lost the broker: what it has shown since is as of then.
    else if (state === 'broker-down') this.staleSince = Math.min(this.staleSince ?? this.broker.since, this.broker.since)
    else this.staleSince ??= this.lastGood ?? now
    if (state === 'live') this.lastGood = now
    const reason = state === 'reconnecting' ? 'the live stream is down; retrying'
      : state === 'broker-down' ? "the dashboard's server cannot reach the broker: tasks and workers are shown as they were; workers keep their last status"
      : this.reason
    return { state, since: this.staleSince, reason }
  },
}

// One EventSource per tab; pages subscribe to its batches.
const listeners = new Set()
let source
let reopen
export const live = { events: 0 }
function connect() {
  source = new EventSource(prefix + '/api/events')
  const heard = () => {
    health.streamOpen = true
    health.everOpen = true
    health.lastMessage = Date.now()
  }
  source.addEventListener('hello', (e) => {
    heard()
    const hello = JSON.parse(e.data)
    live.events = hello.events
    if (hello.broker) health.broker = hello.broker
    for (const l of listeners) l({ hello: true, tasks: [], workers: [], changed: 0 })
  })
  source.addEventListener('batch', (e) => {
    heard()
    const batch = JSON.parse(e.data)
    live.events = batch.events
    for (const l of listeners) l(batch)
  })
  source.addEventListener('ping', heard)
  source.addEventListener('broker', (e) => {
    heard()
    health.broker = JSON.parse(e.data)
  })
  source.onerror = () => {
    health.streamOpen = false
    // A dropped stream is retried by the browser; one answered with an error is closed for good.
    if (source.readyState === EventSource.CLOSED) scheduleReopen()
  }
}
function scheduleReopen() {
  clearTimeout(reopen)
  reopen = setTimeout(() => {
    source.close()
    connect()
  }, REOPEN_MS)
}
// A stream that went silent (a hung server, a dead proxy) is closed and opened again.
setInterval(() => {
  if (source && health.streamOpen && Date.now() - health.lastMessage > SILENT_MS) {
    health.streamOpen = false
    scheduleReopen()
  }
}, 5000)

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

export { ago, time, duration, span, bytes, clock } from './format.js'

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
