import { parseArgs } from 'node:util'
import { censorUrl } from '../config/conf.js'
import { loadApp } from './load-app.js'
import type { WorkerOptions } from '../worker/worker-options.js'

export const workerHelp = `Usage: celeriac worker -A <module> [options]

Starts a worker node serving the app found in <module>.

Options:
  -A, --app <module>        module (.ts, .js or package) exporting the app
  -c, --concurrency <n>     worker threads (default: CPU count)
  -Q, --queues <a,b>        queues to consume (default: the default queue)
  -n, --hostname <name>     node name; %h is the host name (default: celeriac@%h)
      --prefetch <n>        tasks handed to each thread at once
  -E, --events              send task events
  -B, --beat                also run a beat in this process (see celeriac beat)
  -h, --help                show this help

TERM or INT: warm shutdown (running tasks finish); a second one: cold shutdown.`

/** `celeriac worker`: runs a node until TERM/INT. */
export async function worker(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      app: { type: 'string', short: 'A' },
      concurrency: { type: 'string', short: 'c' },
      queues: { type: 'string', short: 'Q' },
      hostname: { type: 'string', short: 'n' },
      prefetch: { type: 'string' },
      events: { type: 'boolean', short: 'E' },
      beat: { type: 'boolean', short: 'B' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    console.log(workerHelp)
    return 0
  }
  if (!values.app) throw new UsageError('worker: -A/--app <module> is required')
  const app = await loadApp(values.app)
  const options: WorkerOptions = {}
  if (values.concurrency !== undefined) options.concurrency = integer(values.concurrency, '--concurrency')
  if (values.prefetch !== undefined) options.prefetch = integer(values.prefetch, '--prefetch')
  if (values.queues !== undefined) options.queues = values.queues.split(',').map((q) => q.trim()).filter(Boolean)
  if (values.hostname !== undefined) options.hostname = values.hostname
  if (values.events) options.sendEvents = true
  const node = app.worker(options)
  await node.start()
  // -B: an embedded beat, stopped before the node. A bad schedule stops the node too.
  const beat = values.beat ? app.beat() : undefined
  await beat?.start().catch(async (error: unknown) => {
    await node.stop({ cold: true }).then(() => app.close())
    throw error
  })
  console.log(banner(app.name, node.hostname, censorUrl(app.conf.broker), censorUrl(app.conf.backend), node.options.concurrency, node.options.queues, [...app.tasks.keys()]))
  return new Promise<number>((resolve) => {
    let signals = 0
    const stop = (signal: string) => {
      signals++
      const cold = signals > 1 || signal === 'SIGQUIT'
      console.log(`\n${signal}: ${cold ? 'cold' : 'warm'} shutdown${cold ? '' : ' (running tasks finish; send it again to stop now)'}`)
      Promise.resolve(beat?.stop()).then(() => node.stop({ cold })).then(() => app.close()).then(() => resolve(0), (error) => {
        console.error(error)
        resolve(1)
      })
    }
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(signal, () => stop(signal))
  })
}

function banner(app: string, hostname: string, broker: string, backend: string, concurrency: number, queues: string[], tasks: string[]): string {
  return [
    `${hostname} ready.`,
    `- app:         ${app}`,
    `- transport:   ${broker}`,
    `- results:     ${backend}`,
    `- concurrency: ${concurrency} (threads)`,
    `- queues:      ${queues.join(', ')}`,
    '',
    '[tasks]',
    ...tasks.sort().map((task) => `  . ${task}`),
  ].join('\n')
}

function integer(value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`)
  return n
}

/** A mistake on the command line: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}
