import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { tempDir } from '../helpers/files.js'
import { chain, chord } from '../../src/index.js'
import type { SpanLine } from '../fixtures/obs-trace-app.js'

// A client (this process) and a worker process on one nats-server, both with an SDK that
// writes finished spans to one file.
type Fixture = typeof import('../fixtures/obs-trace-app.js')
const fixture = fileURLToPath(new URL('../fixtures/obs-trace-app.ts', import.meta.url))
const PRODUCER = 3
const CONSUMER = 4
const ERROR = 2

if (!natsServerAvailable()) {
  t.plan(0, 'nats-server is not installed')
} else {
  let server: NatsServer
  let worker: WorkerProcess
  let f: Fixture
  let file: string
  t.before(async () => {
    file = `${tempDir(t)}/spans.jsonl`
    server = await startNatsServer()
    const env = { CELERIAC_BROKER_URL: server.url, CELERIAC_RESULT_BACKEND: server.url, OBS_SPAN_FILE: file, OBS_LOG_FILE: file.replace('spans', 'logs') }
    Object.assign(process.env, env)
    f = await import('../fixtures/obs-trace-app.js')
    // The CLI's logger is the worker process's one logger (README, CLI): its JSON lines, a task's
    // ctx.logger lines from a worker thread among them, go to the log file the test reads.
    worker = await startWorkerProcess({ app: fixture, hostname: 'traced@test', args: ['-c', '1', '-l', 'info', '--log-format', 'json', '--logfile', env.OBS_LOG_FILE], env })
  })
  t.teardown(async () => {
    await worker?.stop()
    await f?.app.close()
    await server?.cleanup()
  })

  const spans = (): SpanLine[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as SpanLine) : [])
  /** The spans of `traceId` once `count` have ended (exporters write as spans end, in any order). */
  async function trace(traceId: string, count: number): Promise<SpanLine[]> {
    const deadline = Date.now() + 10_000
    for (;;) {
      const found = spans().filter((span) => span.traceId === traceId)
      if (found.length >= count || Date.now() > deadline) return found
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const rootOf = async <R extends { id: string; get(o: object): Promise<unknown> }>(name: string, send: () => Promise<R>) => {
    const { trace: api } = await import('@opentelemetry/api')
    let traceId = ''
    const result = await api.getTracer('test').startActiveSpan(name, async (span) => {
      traceId = span.spanContext().traceId
      try {
        return await send()
      } finally {
        span.end()
      }
    })
    return { result, traceId }
  }

  t.test('tracing - chain(a, b) sent in a span is one trace: send and process spans nest across processes and threads', async (t) => {
    const { result, traceId } = await rootOf('request', () => chain(f.a.s(1), f.b.s()).applyAsync())
    t.equal(await result.get({ timeout: 15 }), 4)
    const found = await trace(traceId, 6)
    const one = (test: (s: SpanLine) => boolean, what: string) => {
      const matching = found.filter(test)
      t.equal(matching.length, 1, `one ${what}`)
      return matching[0] ?? ({} as SpanLine)
    }
    const request = one((s) => s.name === 'request', 'request span')
    const sendA = one((s) => s.kind === PRODUCER && s.attributes['celeriac.task.name'] === 'obstrace.a', 'send span of a')
    const processA = one((s) => s.kind === CONSUMER && s.attributes['celeriac.task.name'] === 'obstrace.a', 'process span of a')
    const inside = one((s) => s.name === 'inside a', 'span opened inside a')
    const sendB = one((s) => s.kind === PRODUCER && s.attributes['celeriac.task.name'] === 'obstrace.b', 'send span of b')
    const processB = one((s) => s.kind === CONSUMER && s.attributes['celeriac.task.name'] === 'obstrace.b', 'process span of b')
    t.equal(found.length, 6, 'nothing else in the trace')
    t.equal(sendA.name, 'send celery')
    t.equal(processA.name, 'process celery')
    t.equal(sendA.parentSpanId, request.spanId, 'the client sends a inside its request span')
    t.equal(processA.parentSpanId, sendA.spanId, 'a runs as a child of its send')
    t.equal(inside.parentSpanId, processA.spanId, "a span opened in the task's thread is a child of its process span")
    t.equal(sendB.parentSpanId, processA.spanId, "the chain's next step is sent inside a's span")
    t.equal(processB.parentSpanId, sendB.spanId)
    t.not(sendA.where.split('/')[0], processA.where.split('/')[0], 'client and worker are different processes')
    t.not(inside.where, processA.where, 'the task ran in a worker thread')
    t.match(processA.attributes, { 'messaging.system': 'celeriac', 'messaging.destination.name': 'celery', 'messaging.message.id': String, 'celeriac.task.retries': 0, 'celeriac.task.state': 'succeeded' })
    t.equal(processA.attributes['messaging.message.id'], sendA.attributes['messaging.message.id'])
  })

  t.test("tracing - a chord's body is sent inside the span of the member that completed it", async (t) => {
    const { result, traceId } = await rootOf('chord request', () => chord([f.a.s(1), f.a.s(2)], f.total.s()).applyAsync())
    t.equal(await result.get({ timeout: 15 }), 5)
    const found = await trace(traceId, 9)
    const members = found.filter((s) => s.kind === CONSUMER && s.attributes['celeriac.task.name'] === 'obstrace.a')
    const sendBody = found.find((s) => s.kind === PRODUCER && s.attributes['celeriac.task.name'] === 'obstrace.total')
    const body = found.find((s) => s.kind === CONSUMER && s.attributes['celeriac.task.name'] === 'obstrace.total')
    t.equal(members.length, 2, 'both members in the trace')
    t.ok(members.some((m) => m.spanId === sendBody?.parentSpanId), "the body's send is a child of a member's process span")
    t.equal(body?.parentSpanId, sendBody?.spanId)
  })

  t.test("logs - ctx.logger's lines carry the task's id, name, trace and span", async (t) => {
    const { result, traceId } = await rootOf('logging request', () => f.logs.delay(3))
    t.equal(await result.get({ timeout: 15 }), 3)
    const [span] = (await trace(traceId, 3)).filter((s) => s.kind === CONSUMER)
    const logged = readFileSync(file.replace('spans', 'logs'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const charging = logged.filter((l) => l.msg === 'charging card').map(({ level, msg, id, task, traceId, spanId, amount }) => ({ level, msg, id, task, traceId, spanId, amount }))
    t.same(charging, [{ level: 'info', msg: 'charging card', id: result.id, task: 'obstrace.logs', traceId, spanId: span?.spanId, amount: 3 }])
  })

  t.test('tracing - a retried task has one span per attempt; the retry links to the first', async (t) => {
    const { result, traceId } = await rootOf('retry request', () => f.flaky.delay())
    t.equal(await result.get({ timeout: 15 }), 1)
    const attempts = (await trace(traceId, 5)).filter((s) => s.kind === CONSUMER)
    t.equal(attempts.length, 2, 'two process spans')
    const [first, second] = [...attempts].sort((x, y) => Number(x.attributes['celeriac.task.retries']) - Number(y.attributes['celeriac.task.retries']))
    t.match(first.attributes, { 'celeriac.task.retries': 0, 'celeriac.task.state': 'retried' })
    t.match(second.attributes, { 'celeriac.task.retries': 1, 'celeriac.task.state': 'succeeded' })
    t.same(second.links, [{ traceId, spanId: first.spanId }], 'the retry links to the first attempt')
    t.ok(first.events.includes('exception'), 'the cause of the retry is recorded')
  })

  t.test('tracing - a failed task has its error on its span', async (t) => {
    const { result, traceId } = await rootOf('failing request', () => f.boom.delay())
    await t.rejects(result.get({ timeout: 15 }), { name: 'Boom' })
    const [span] = (await trace(traceId, 3)).filter((s) => s.kind === CONSUMER)
    t.same(span?.status, { code: ERROR, message: 'Boom: no luck' })
    t.equal(span?.attributes['celeriac.task.state'], 'failed')
    t.ok(span?.events.includes('exception'))
  })
}
