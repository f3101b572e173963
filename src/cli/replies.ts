import { CommandFailed } from './args.js'
import type { ControlReplies } from '../client/control.js'

/**
 * Prints replies as Celery does (`->  node: OK` then the value, indented), or as one JSON
 * object with `json`. No reply, or an error reply, fails the command (exit code 1).
 */
export function printReplies(replies: ControlReplies, options: { json?: boolean; quiet?: boolean } = {}): void {
  const hosts = Object.keys(replies).sort()
  if (options.json) console.log(JSON.stringify(replies, null, 2))
  else if (!options.quiet) {
    for (const host of hosts) {
      const reply = replies[host]
      console.log(`->  ${host}: ${reply.error === undefined ? 'OK' : 'ERROR'}`)
      for (const line of describe(reply.error ?? reply.ok)) console.log(`        ${line}`)
    }
  }
  if (hosts.length === 0) throw new CommandFailed('no nodes replied within the time limit')
  const failed = hosts.filter((host) => replies[host].error !== undefined)
  if (failed.length > 0) throw new CommandFailed(`${failed.join(', ')} replied with an error`)
}

function describe(value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value.length === 0 ? ['- empty -'] : value.map((item) => `* ${typeof item === 'string' ? item : JSON.stringify(item)}`)
  return JSON.stringify(value, null, 2).split('\n')
}
