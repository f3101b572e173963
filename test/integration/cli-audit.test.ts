import t, { type Test } from 'tap'
import { createServer, type Socket } from 'node:net'
import { startCeleriac } from '../helpers/cli.js'

// What an outside new-user audit of the command line met, as the user meets it: the CLI in its
// own process, its exit code and its message.

t.setTimeout(180_000)

/** A TCP server that accepts connections and never says a word (not NATS); its port. */
async function silentServer(t: Test): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return (server.address() as { port: number }).port
}

/** The exit code of `child`, or 'still running' after `ms`. */
function exitWithin(child: import('node:child_process').ChildProcess, ms: number): Promise<number | null | 'still running'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), ms)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

t.test('audit - a broker URL that is not NATS: the error is printed and the command exits (1)', async (t) => {
  const port = await silentServer(t)
  const run = startCeleriac(['call', 'tasks.add', '--args', '[1,2]', '-b', `nats://127.0.0.1:${port}`])
  t.teardown(() => run.stop('SIGKILL'))
  // nats.js gives up after its own connect timeout (20 s), then leaves its socket open.
  await run.waitFor(/celeriac: cannot connect to NATS/, 60_000)
  t.equal(await exitWithin(run.child, 5_000), 1, 'exits soon after the error')
  t.match(run.output(), new RegExp(`^celeriac: cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}: `))
})
