import { parseArgs } from 'node:util'
import { connectionHelp, connectionOptions, openApp, requireShared } from './args.js'
import { addressing, nodeHelp, nodeOptions } from './inspect.js'
import { printReplies } from './replies.js'
import { alignOptions } from './help.js'

export const statusHelp = alignOptions(`Usage: celeriac status [options]

Lists the nodes that answer a ping, and those heard from (heartbeat, offline) that do not.

Options:
${connectionHelp}
${nodeHelp}`)

/** `celeriac status`: which nodes are up. */
export async function status(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...connectionOptions, ...nodeOptions } })
  if (values.help) {
    console.log(statusHelp)
    return 0
  }
  const options = addressing(values)
  const app = await openApp(values)
  try {
    requireShared(app, 'status', 'no node in another process can hear this command or answer it')
    // Heartbeats heard while waiting for pongs: a node that beats but does not answer is busy or stuck; one that said offline is gone.
    const heard = new Map<string, string>()
    const stream = app.events.subscribe('worker-*')
    await stream.ready
    const listening = (async () => {
      for await (const event of stream) heard.set(event.hostname, event.type)
    })()
    const replies = await app.control.ping(options)
    stream.close()
    await listening
    if (values.json) {
      printReplies(replies, { json: true })
      return 0
    }
    const hosts = Object.keys(replies).sort()
    for (const host of hosts) console.log(`->  ${host}: OK`)
    const answered = new Set(hosts.map(nodeName))
    for (const name of answered) {
      const same = hosts.filter((host) => nodeName(host) === name).length
      if (same > 1) console.log(`!!  ${same} nodes answer as ${name}: give each a unique name (worker -n)`)
    }
    for (const [host, last] of [...heard].sort()) {
      if (answered.has(host) || (options.destination && !options.destination.includes(host))) continue
      console.log(`->  ${host}: ${last === 'worker-offline' ? 'OFFLINE (said goodbye)' : 'NO REPLY (heartbeat heard: busy or stuck)'}`)
    }
    console.log(`\n${hosts.length} node${hosts.length === 1 ? '' : 's'} online.`)
    printReplies(replies, { quiet: true })
    return 0
  } finally {
    await app.close()
  }
}

/** The node name of a reply's key: `w1@host`, or `w1@host (pid 42)` when two share it. */
function nodeName(key: string): string {
  return key.replace(/ \(pid [^)]*\)$/, '')
}
