import { parseArgs } from 'node:util'
import { createServer } from 'node:http'
import { connectionHelp, connectionOptions, openApp, positiveInt, requireShared, list, UsageError } from './args.js'
import { alignOptions } from './help.js'
import { watchParent } from './parent-watch.js'
import type { DashboardOptions } from '../dashboard/options.js'

export const dashboardHelp = alignOptions(`Usage: celeriac dashboard [options]

Serves a live web dashboard and HTTP API of the cluster (workers, tasks, queues, beat, metrics)
until TERM or INT. Task events come from nodes started with -E (or after
\`celeriac control enable_events\`). Binds 127.0.0.1 unless told otherwise.

Options:
${connectionHelp}
      --port <n>              TCP port (default: 5555)
      --address <host>        address to bind (default: 127.0.0.1)
      --basic-auth <u:p>      require HTTP basic auth with this user and password
      --token <t>             require this token (Authorization: Bearer, or ?token= once)
      --open <paths>          paths served without auth: /healthcheck,/metrics
      --read-only             hide and refuse every action
      --max-tasks <n>         tasks kept in memory, oldest dropped (default: 100000)
      --prefix <path>         path the dashboard is served under behind a proxy
      --allowed-hosts <list>  host names the Host header may name (default on a loopback
                              address: 127.0.0.1,localhost,[::1]; elsewhere: any)
      --enable-events         turn task events on in every node now and each minute (Flower's
                              default), so tasks show without starting nodes with -E`)

/** `celeriac dashboard`: serves the dashboard until a signal. */
export async function dashboard(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...connectionOptions,
      port: { type: 'string' }, address: { type: 'string' }, 'basic-auth': { type: 'string' }, token: { type: 'string' },
      open: { type: 'string' }, 'read-only': { type: 'boolean' }, 'max-tasks': { type: 'string' }, prefix: { type: 'string' },
      'allowed-hosts': { type: 'string' }, 'enable-events': { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(dashboardHelp)
    return 0
  }
  const port = values.port === undefined ? 5555 : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}`)
  const options: DashboardOptions = { readOnly: values['read-only'] ?? false }
  if (values['basic-auth'] !== undefined) {
    if (!/^[^:]+:.+$/.test(values['basic-auth'])) throw new UsageError('--basic-auth must be user:password')
    options.basicAuth = values['basic-auth']
  }
  if (values.token !== undefined) options.token = values.token
  if (values['max-tasks'] !== undefined) options.maxTasks = positiveInt(values['max-tasks'], '--max-tasks')
  if (values.prefix !== undefined) options.prefix = values.prefix
  if (values.open !== undefined) {
    const open = list(values.open)
    for (const path of open) if (path !== '/healthcheck' && path !== '/metrics') throw new UsageError(`--open takes /healthcheck and /metrics, got ${JSON.stringify(path)}`)
    options.openPaths = open as ('/healthcheck' | '/metrics')[]
  }
  const address = values.address ?? '127.0.0.1'
  if (values['allowed-hosts'] !== undefined) options.allowedHosts = list(values['allowed-hosts'])
  else if (/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(address)) options.allowedHosts = ['127.0.0.1', 'localhost', '[::1]', ...(address.startsWith('127.') && address !== '127.0.0.1' ? [address] : [])]
  const app = await openApp(values)
  try {
    requireShared(app, 'dashboard', 'no node in another process can send it events (use app.dashboard() in the process of an embedded node)')
  } catch (error) {
    await app.close()
    throw error
  }
  const handler = app.dashboard(options)
  await handler.dashboard
  const server = createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, address, () => resolve())
  })
  const bound = server.address()
  const shown = typeof bound === 'object' && bound ? `${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}` : `${address}:${port}`
  const auth = options.basicAuth ? 'basic auth' : options.token ? 'token' : 'none'
  console.log(`-> celeriac dashboard: http://${shown}${options.prefix ?? ''}/ (auth: ${auth}${options.readOnly ? ', read-only' : ''}; Ctrl+C to stop)`)
  // Nodes started later get it too: asked again each minute, as Flower does.
  const enable = () => app.control.enableEvents({ timeout: 1 }).catch((error: unknown) => app.logger.warn('could not enable events', { error }))
  const enabling = values['enable-events'] ? (void enable(), setInterval(enable, 60_000)) : undefined
  let unwatch = () => {}
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve())
    // Under npx, `kill` of npm's pid does not reach this process; its parent's exit does (see
    // parent-watch.ts). Without this the dashboard outlives it and keeps its port.
    unwatch = watchParent((ppid) => {
      console.error(`-> celeriac dashboard: parent process ${ppid} exited (npm does not pass its signals on): stopping`)
      resolve()
    })
  })
  unwatch()
  clearInterval(enabling)
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await handler.close()
  await app.close()
  return 0
}
