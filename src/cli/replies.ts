import { hostname as osHostname } from 'node:os'
import { CommandFailed } from './args.js'
import type { ControlReplies } from '../client/control.js'

/**
 * Prints replies as Celery does (`->  node: OK` then the value, indented), or as one JSON
 * object with `json`. An error reply fails the command (exit code 1), and so does no reply,
 * unless `nobody` says what was done anyway (a revoke is stored for nodes that start later).
 *
 * In JSON each node's value is its reply as Celery prints it: `{ "ok": ... }` or
 * `{ "error": ... }`, or with `bare` (`inspect` but ping) the value itself, as in
 * `celery inspect active -j`; an error stays `{ "error": ... }` there too.
 */
export function printReplies(replies: ControlReplies, options: { json?: boolean; quiet?: boolean; bare?: boolean; nobody?: string; destination?: readonly string[] } = {}): void {
  const hosts = Object.keys(replies).sort()
  if (hosts.length === 0 && options.nobody !== undefined) {
    if (options.json) console.log('{}')
    else if (!options.quiet) console.log(options.nobody)
    return
  }
  if (options.json) {
    const shown = options.bare ? Object.fromEntries(hosts.map((host) => [host, replies[host].error === undefined ? replies[host].ok : { error: replies[host].error }])) : replies
    console.log(JSON.stringify(shown, null, 2))
  } else if (!options.quiet) {
    for (const host of hosts) {
      const reply = replies[host]
      console.log(`->  ${host}: ${reply.error === undefined ? 'OK' : 'ERROR'}`)
      for (const line of describe(reply.error ?? reply.ok)) console.log(`        ${line}`)
    }
  }
  if (hosts.length === 0) throw new CommandFailed(`no nodes replied within the time limit${hostless(options.destination)}`)
  const failed = hosts.filter((host) => replies[host].error !== undefined)
  if (failed.length > 0) throw new CommandFailed(`${failed.join(', ')} replied with an error`)
}

function describe(value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value.length === 0 ? ['- empty -'] : value.map((item) => `* ${typeof item === 'string' ? item : JSON.stringify(item)}`)
  return JSON.stringify(value, null, 2).split('\n')
}

/** A hint for `-d w1`: node names have a host part (`w1@host`), and a name without one matches none. */
function hostless(destination: readonly string[] | undefined): string {
  const bare = destination?.filter((name) => !name.includes('@')) ?? []
  return bare.length === 0 ? '' : ` (node names have a host part, as in ${bare[0]}@${osHostname()}: -d ${bare.join(',')} names none; \`celeriac status\` lists them)`
}
