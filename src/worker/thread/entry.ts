/**
 * Entry of a worker thread: imports the app's task modules once, then serves the hot port
 * (batches of tasks) and a comlink control API (init).
 * Loaded only through `new Worker(...)` (see ../pool/spawn.ts), never imported.
 */
import { parentPort, threadId, workerData, type MessagePort } from 'node:worker_threads'
import { expose } from 'comlink'
import nodeEndpoint from 'comlink/dist/umd/node-adapter.js'
import { exportedApp, type AppRegistration } from './app-module.js'
import { installComlinkErrorHandler } from '../../protocol/comlink-errors.js'
import { ActorHost } from './actor-host.js'
import { markNodeThread } from './relay-client.js'
import { loadOtel } from '../../observability/otel.js'
import { slotsOf, type MainToThread, type ThreadInit, type ThreadReady } from '../../protocol/thread-messages.js'

// Before the app is imported: its memory:// broker and store are the node's (see relay-client.ts).
markNodeThread()

const init = workerData as ThreadInit & { control: MessagePort; tsxRegistered: boolean }
const port = parentPort!

async function start(): Promise<ThreadReady> {
  if (!init.tsxRegistered && init.modules.some((url) => /\.[cm]?tsx?$/.test(url))) {
    const { register } = await import('tsx/esm/api')
    register()
  }
  // The first module is the one that created the app: the app is found among its exports.
  const [main, ...included] = init.modules
  const exports = (await import(main)) as Record<string, unknown>
  for (const url of included) await import(url)
  // Tasks run in their trace from the first one on: the optional OpenTelemetry API is loaded now.
  await loadOtel()
  const app = exportedApp<AppRegistration>(exports, init.appName)
  if (!app) throw new Error(`worker thread: ${init.modules[0]} exports no app named "${init.appName}": export the app from the module that creates it`)
  const host = new ActorHost(app, init.hostname, slotsOf(init.shared), (message, transfer) => port.postMessage(message, transfer), init.reportHeap)
  port.on('message', (message: MainToThread) => host.handle(message))
  return { threadId, tasks: [...app.tasks.keys()] }
}

const api = {
  init: start,
}
export type ThreadApi = typeof api

installComlinkErrorHandler()
// The adapter's default export is mistyped under nodenext (FACTS.md): cast it once.
const adapt = nodeEndpoint as unknown as (port: MessagePort) => Parameters<typeof expose>[1]
expose(api, adapt(init.control))
