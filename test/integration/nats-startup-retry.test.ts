// Found by an outside operator audit: after `kill -9` of a server of a 3-node cluster, a client
// started at once failed its first send with "cannot set up the NATS transport: timeout" and
// nothing retried. Setup now asks JetStream again while it elects leaders (bounded, see
// STARTUP_RETRY_MS in src/transport/nats/connect.ts).
import t from 'tap'
import { startNatsCluster, type NatsCluster } from '../../src/testing/nats-server.js'
import { createApp, type App, type Logger } from '../../src/index.js'
import type { WorkerNode } from '../../src/worker/worker-node.js'

type Fixture = typeof import('../fixtures/nats-app.js')
type Line = { level: string; message: string; fields?: Record<string, unknown> }

/** A logger that keeps every line; `onLine` sees each as it comes. */
function keeping(onLine: (line: Line) => void = () => {}): Logger & { lines: Line[] } {
  const lines: Line[] = []
  const keep = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const line = { level, message, fields }
    lines.push(line)
    onLine(line)
  }
  return { lines, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') }
}

// Three servers, an election and a worker take a while on a busy machine.
t.setTimeout(120_000)

let cluster: NatsCluster
let f: Fixture
let node: WorkerNode
let client: App | undefined
const workerLog = keeping()
t.before(async () => {
  cluster = await startNatsCluster(3)
  process.env.CELERIAC_BROKER_URL = cluster.url
  f = await import('../fixtures/nats-app.js')
  f.app.useLogger(workerLog)
  // Makes every stream, bucket and consumer (R3) while the whole cluster is up.
  node = f.app.worker({ concurrency: 1, hostname: 'startup@test' })
  await node.start()
})
t.teardown(async () => {
  await client?.close()
  await node?.stop()
  await f?.app.close()
  await cluster?.cleanup()
})

t.test('a client started while the cluster has no leader sends its first task once it has one: no throw, the task runs', async (t) => {
  t.equal(await (await f.add.delay(1, 1)).get({ timeout: 20 }), 2, 'the worker runs tasks')
  // Two of three servers gone: no quorum, so neither JetStream nor any stream has a leader,
  // and every JetStream API request times out, as in the seconds of an election.
  await Promise.all([cluster.node('n2').kill(), cluster.node('n3').kill()])

  let retrying!: () => void
  const toldRetrying = new Promise<void>((resolve) => (retrying = resolve))
  const clientLog = keeping((line) => line.message.startsWith('JetStream is not answering yet') && retrying())
  client = createApp({ name: 'natsfix', broker: cluster.url, backend: 'nats://', logger: clientLog })
  const sent = client.sendTask('n.add', [2, 3])
  // Without retries the send fails here (its first request times out); with them it waits.
  const first = await Promise.race([sent.then(() => 'sent', (error: Error) => `failed: ${error.message}`), toldRetrying.then(() => 'retrying')])
  t.equal(first, 'retrying', 'the client waits for the cluster instead of failing')
  t.match(clientLog.lines.find((l) => l.message.startsWith('JetStream is not answering yet'))?.message, /retrying for up to 60 s$/)

  const startedAt = Date.now()
  await cluster.node('n2').start()
  const result = await sent
  t.comment(`the first send went through ${Date.now() - startedAt} ms after a second server was back`)
  t.equal(await result.get({ timeout: 30 }), 5, 'and the task ran')

  // A fetch whose server went away is reported in one line, not with nats.js's stack.
  const fetchLines = workerLog.lines.filter((l) => l.message.startsWith('fetching from the queue failed'))
  t.same(fetchLines.filter((l) => l.fields?.error instanceof Error).map((l) => l.fields), [], 'no fetch failure carries an Error')
})
