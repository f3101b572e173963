import { Worker, type WorkerOptions } from 'node:worker_threads'

const isTypeScript = (url: string) => /\.[cm]?tsx?$/.test(new URL(url).pathname)

/**
 * Starts a worker thread on an ESM entry, `.js` or `.ts`. tsx registers itself only on the
 * main thread and Node 20 refuses a `.ts` worker URL (FACTS.md), so a `.ts` entry is started
 * from a small bootstrap that registers tsx in the thread first. `tsxRegistered` tells the
 * entry whether it still has to register tsx for `.ts` task modules.
 */
export function spawnThread(entry: URL, options: WorkerOptions & { workerData: Record<string, unknown> }): Worker {
  if (!isTypeScript(entry.href)) {
    return new Worker(entry, { ...options, workerData: { ...options.workerData, tsxRegistered: false } })
  }
  const tsx = import.meta.resolve('tsx/esm/api')
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(bootstrap, { ...options, eval: true, workerData: { ...options.workerData, tsxRegistered: true } })
}

/** The thread entry next to this module, `.ts` when running from source, `.js` from dist. */
export function threadEntry(): URL {
  const ext = isTypeScript(import.meta.url) ? '.ts' : '.js'
  return new URL(`../thread/entry${ext}`, import.meta.url)
}
