import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What a route answers. */
export interface Reply {
  status: number
  contentType: string
  body: string
}

/** A small HTTP server for metrics and probes: GET routes only, no framework. */
export interface Endpoint {
  /** `http://host:port` it listens on (the port it got when asked for 0). */
  readonly url: string
  close(): Promise<void>
}

/** Serves `routes` (path to handler) on `host:port`; rejects when the port cannot be had. */
export function serveEndpoint(port: number, host: string, routes: Record<string, () => Reply | Promise<Reply>>): Promise<Endpoint> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined
    if (route === undefined || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(route === undefined ? 404 : 405, { 'content-type': 'text/plain' }).end(route === undefined ? 'not found\n' : 'method not allowed\n')
      return
    }
    Promise.resolve()
      .then(route)
      .then(
        (reply) => response.writeHead(reply.status, { 'content-type': reply.contentType }).end(request.method === 'HEAD' ? undefined : reply.body),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error)?.message ?? String(error)}\n`),
      )
  })
  // A probe connection must never keep the process alive after the node stopped.
  server.unref()
  return new Promise((resolve, reject) => {
    server.once('error', (error: Error) => reject(new Error(`cannot serve ${Object.keys(routes).join(', ')} on ${host}:${port}: ${error.message}`, { cause: error })))
    server.listen(port, host, () => {
      server.removeAllListeners('error')
      // A listening server's errors come from single connections, which node:http already ends.
      server.on('error', () => undefined)
      const address = server.address() as AddressInfo
      const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
      resolve({
        url: `http://${shown}:${address.port}`,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections()
          server.close(() => done())
        }),
      })
    })
  })
}
