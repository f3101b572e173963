/**
 * Who may use the dashboard, and how: basic auth or a token on every page and API call,
 * read-only mode, and state-changing calls only by POST from the dashboard's own origin.
 * @module
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import type { DashboardOptions } from './options.js'

const TOKEN_COOKIE = 'celeriac_dashboard_token'

function same(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the comparison's time says nothing about the secret.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return undefined
}

/** Refuses a request without the configured credentials: 401 with a JSON error (and a basic-auth challenge). */
export function authenticate(options: DashboardOptions): MiddlewareHandler {
  const open = new Set<string>(options.openPaths ?? [])
  return async (c, next) => {
    if ((!options.basicAuth && !options.token) || open.has(c.req.path)) return next()
    const authorization = c.req.header('authorization') ?? ''
    if (options.basicAuth && authorization.startsWith('Basic ')) {
      const given = Buffer.from(authorization.slice(6), 'base64').toString('utf8')
      if (same(given, options.basicAuth)) return next()
    }
    if (options.token) {
      const bearer = authorization.startsWith('Bearer ') ? authorization.slice(7) : undefined
      const query = c.req.query('token')
      const given = bearer ?? query ?? cookie(c.req.header('cookie'), TOKEN_COOKIE)
      if (given !== undefined && same(given, options.token)) {
        await next()
        // A page opened with ?token= keeps working (its fetches and live stream) through a cookie.
        if (query !== undefined) c.header('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(query)}; HttpOnly; SameSite=Strict; Path=/`)
        return
      }
    }
    if (options.basicAuth) c.header('WWW-Authenticate', 'Basic realm="celeriac dashboard", charset="UTF-8"')
    return c.json({ error: 'authentication required' }, 401)
  }
}

/**
 * Guards an action: POST only (405 otherwise), refused in read-only mode (403), and refused
 * when a browser says it comes from another site (403): a page elsewhere cannot make a
 * logged-in browser act (CSRF). Clients without an Origin header (curl, scripts) pass.
 */
export function action(options: DashboardOptions): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method !== 'POST') {
      c.header('Allow', 'POST')
      return c.json({ error: `${c.req.method} not allowed: actions take POST` }, 405)
    }
    if (options.readOnly) return c.json({ error: 'read-only dashboard: actions are disabled' }, 403)
    const origin = c.req.header('origin')
    const site = c.req.header('sec-fetch-site')
    if (site === 'cross-site' || (origin !== undefined && origin !== 'null' && !sameHost(origin, c.req.header('host'))) || origin === 'null') {
      return c.json({ error: `cross-site request refused (Origin ${origin ?? 'none'})` }, 403)
    }
    return next()
  }
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host
  } catch {
    return false
  }
}

/** Refuses a request whose `Host` names a host not in `allowed` (DNS rebinding); passes all when `allowed` is undefined. */
export function hostCheck(allowed: readonly string[] | undefined): MiddlewareHandler {
  const hosts = allowed && new Set(allowed.map((h) => h.toLowerCase()))
  return async (c, next) => {
    if (!hosts) return next()
    const host = (c.req.header('host') ?? '').toLowerCase().replace(/:\d+$/, '')
    if (!hosts.has(host)) return c.json({ error: `host ${JSON.stringify(host)} is not allowed (allowedHosts: ${[...hosts].join(', ')})` }, 403)
    return next()
  }
}

/** Headers every response carries: no framing, no sniffing, scripts only from here. */
export const hardening: MiddlewareHandler = async (c, next) => {
  await next()
  c.header('X-Content-Type-Options', 'nosniff')
  c.header('X-Frame-Options', 'DENY')
  c.header('Referrer-Policy', 'same-origin')
  if ((c.res.headers.get('content-type') ?? '').startsWith('text/html')) {
    c.header('Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
  }
}
