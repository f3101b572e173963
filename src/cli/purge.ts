import { createInterface } from 'node:readline/promises'
import { parseArgs } from 'node:util'
import { connectionHelp, connectionOptions, list, openApp, requireShared, UsageError } from './args.js'
import { TransportError } from '../errors.js'
import type { App } from '../app/app.js'
import type { Transport } from '../transport/transport.js'
import { alignOptions } from './help.js'

export const purgeHelp = alignOptions(`Usage: celeriac purge [options]

Removes every waiting task from the queues. There is no undo.

Options:
${connectionHelp}
  -Q, --queues <a,b>  queues to purge (default: the default queue and config.taskQueues)
  -f, --force         do not ask for confirmation`)

/** `celeriac purge`: empties queues, after asking unless `-f`. */
export async function purge(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...connectionOptions, queues: { type: 'string', short: 'Q' }, force: { type: 'boolean', short: 'f' } },
  })
  if (values.help) {
    console.log(purgeHelp)
    return 0
  }
  const app = await openApp(values)
  try {
    requireShared(app, 'purge', 'its queues are not the queues of any other process, so there is nothing to purge')
    const named = values.queues !== undefined
    const transport = await app.transport()
    // Only queues the broker has: a typo in -Q is an error, not a new empty queue; a known
    // queue no worker has declared yet holds nothing to purge.
    const queues: string[] = []
    for (const name of named ? list(values.queues!) : knownQueues(app)) {
      if (await exists(transport, name)) queues.push(name)
      else if (named) throw new UsageError(`purge: no queue "${name}" on the broker (no worker or sender has declared it; check -Q)`)
    }
    if (queues.length > 0 && !values.force && !(await confirm(queues))) {
      console.log('Aborted: nothing purged.')
      return 0
    }
    let purged = 0
    for (const name of queues) purged += await transport.purge(name)
    const where = `${queues.length} known task queue${queues.length === 1 ? '' : 's'}`
    console.log(purged === 0 ? `No messages purged from ${where}.` : `Purged ${purged} message${purged === 1 ? '' : 's'} from ${where}.`)
    return 0
  } finally {
    await app.close()
  }
}

/** Whether the broker has this queue (the transports refuse an undeclared one by name). */
async function exists(transport: Transport, queue: string): Promise<boolean> {
  try {
    await transport.depth(queue)
    return true
  } catch (error) {
    if (error instanceof TransportError && /is not declared/.test(error.message)) return false
    throw error
  }
}

function knownQueues(app: App): string[] {
  return [...new Set([app.conf.taskDefaultQueue, ...app.conf.taskQueues.map((q) => q.name)])]
}

async function confirm(queues: string[]): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError('purge: stdin is not a terminal to confirm on: pass -f to purge without asking')
  const prompt = createInterface({ input: process.stdin, output: process.stdout })
  try {
    const answer = await prompt.question(`WARNING: This will remove all tasks from ${queues.length === 1 ? 'queue' : 'queues'}: ${queues.join(', ')}.\nThere is no undo for this operation! Are you sure (yes/NO)? `)
    return answer.trim().toLowerCase() === 'yes'
  } finally {
    prompt.close()
  }
}
