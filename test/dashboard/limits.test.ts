// Found by an outside hostile-input audit: the dashboard read request bodies of any size (a
// 60 MB POST to /api/task/async-apply was read whole, RSS 114 MB -> 349 MB, and answered 500
// "over the NATS server's max_payload"), and a JSON body nested 100,000 deep answered
// 500 {"error":"Maximum call stack size exceeded"}. A body over the limit (1 MiB unless
// maxBodyBytes says otherwise) is a 413 saying the limit, found by its Content-Length or while
// it streams in; one nested too deeply is a 400 saying so.
import t from 'tap'
import { createServer, request, type Server } from 'node:http'
import { app } from '../fixtures/dashboard-send-app.js'

const MiB = 1024 * 1024
const node = app.worker({ concurrency: 1, hostname: 'dash-limits@%h' })
const handler = app.dashboard()
const small = app.dashboard({ maxBodyBytes: 100 })
let server: Server
let port = 0
t.before(async () => {
  await Promise.all([handler.dashboard, small.dashboard])
  await node.start()
  server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
})
t.teardown(async () => {
  await new Promise((resolve) => server.close(resolve))
  await node.stop()
  await Promise.all([handler.close(), small.close()])
  await app.close()
})

const tooLarge = (bytes: number) => `the request body is over the dashboard's limit of ${bytes} bytes (option maxBodyBytes)`

async function post(body: string | ReadableStream<Uint8Array>, init: { path?: string; headers?: Record<string, string>; via?: typeof handler } = {}) {
  const { path = '/api/task/async-apply/s.greet', headers = { 'content-type': 'application/json' }, via = handler } = init
  const response = await via.fetch(new Request(`http://127.0.0.1:5555${path}`, { method: 'POST', headers, body, duplex: 'half' } as RequestInit))
  const answer = (await response.json()) as { error?: string; 'task-id'?: string }
  const result = answer['task-id'] ? await app.asyncResult(answer['task-id']).get({ timeout: 5 }) : undefined
  return { status: response.status, error: answer.error, result }
}

/** A JSON body `{"args": [[[...]]]}` whose arrays and objects nest `depth` levels, the body's object included. */
const nestedArgs = (depth: number) => `{"args": ${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`

/** A body streamed in 64 KiB chunks, without a length, up to `total` bytes; `pulled()` says how much was read. */
function endless(total: number) {
  let sent = 0
  const chunk = new Uint8Array(64 * 1024).fill(0x20)
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close()
      sent += chunk.byteLength
      controller.enqueue(chunk)
    },
  })
  return { stream, pulled: () => sent }
}

t.test('limits - a body over 1 MiB is a 413 saying the limit, the task not sent', async (t) => {
  const big = `{"args": ["${'x'.repeat(2 * MiB)}"]}`
  t.same(await post(big), { status: 413, error: tooLarge(MiB), result: undefined }, 'with its Content-Length')
  t.same(await post(big, { headers: { 'content-type': 'application/json', 'content-length': '20' } }), { status: 413, error: tooLarge(MiB), result: undefined }, 'a Content-Length that undersays it')
  const body = endless(60 * MiB)
  t.same(await post(body.stream), { status: 413, error: tooLarge(MiB), result: undefined }, 'streamed without a length')
  t.ok(body.pulled() < 2 * MiB, `stopped reading past the limit (read ${body.pulled()} of 60 MiB)`)
  t.same(await post(big, { path: '/api/task/revoke/some-id' }), { status: 413, error: tooLarge(MiB), result: undefined }, 'every action: revoke')
  t.same(await post(`args=${'x'.repeat(2 * MiB)}`, { path: '/api/worker/queue/add-consumer/w1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), { status: 413, error: tooLarge(MiB), result: undefined }, 'a form body too')
  t.match(await post(`{"args": ["${'x'.repeat(MiB - 100)}"]}`), { status: 200, result: /^hello x+$/ }, 'a body just under the limit is sent')
})

t.test('limits - maxBodyBytes sets the limit', async (t) => {
  t.same(await post(`{"args": ["${'x'.repeat(100)}"]}`, { via: small }), { status: 413, error: tooLarge(100), result: undefined })
  t.same(await post(endless(MiB).stream, { via: small }), { status: 413, error: tooLarge(100), result: undefined }, 'streamed')
  t.match(await post('{"args": ["ada"]}', { via: small }), { status: 200, result: 'hello ada' })
  t.throws(() => app.dashboard({ maxBodyBytes: 0 }), { name: 'ConfigError', message: 'dashboard maxBodyBytes must be a positive integer, got 0' })
})

/** POSTs up to 60 MiB of spaces over node:http, chunked or with its Content-Length, and stops writing once answered. */
function postOverHttp(headers: Record<string, string>) {
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/task/async-apply/s.greet', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }))
    })
    req.on('error', reject)
    const chunk = Buffer.alloc(64 * 1024, 0x20)
    let written = 0
    const write = () => {
      while (written < 60 * MiB) {
        written += chunk.byteLength
        if (!req.write(chunk)) return void req.once('drain', write)
      }
      req.end()
    }
    req.once('response', () => (written = Infinity))
    write()
  })
}

t.test('limits - over node:http, a body over the limit is answered 413', async (t) => {
  t.same(await postOverHttp({}), { status: 413, body: { error: tooLarge(MiB) } }, 'chunked')
  t.same(await postOverHttp({ 'content-length': String(60 * MiB) }), { status: 413, body: { error: tooLarge(MiB) } }, 'with its Content-Length')
})

t.test('limits - a body nested too deeply is a 400 saying so, never a 500', async (t) => {
  const tooDeep = { status: 400, error: 'the body is nested too deeply: over 256 levels of arrays and objects', result: undefined }
  t.same(await post(nestedArgs(100_000)), tooDeep, 'args nested 100,000 deep (the audit\'s body)')
  t.same(await post(`{"kwargs": {"a": ${'{"a": '.repeat(100_000)}1${'}'.repeat(100_000)}}}`), tooDeep, 'kwargs')
  t.same(await post(nestedArgs(5000)), tooDeep, 'args nested 5,000 deep, which the codec cannot encode')
  t.same(await post(nestedArgs(257)), tooDeep, 'one level over')
  t.same(await post(nestedArgs(100_000), { headers: { 'content-type': 'application/x-www-form-urlencoded' } }), tooDeep, 'sent as a form (read as JSON, as Flower does)')
  t.same(await post(`{"terminate": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`, { path: '/api/task/revoke/some-id' }), tooDeep, 'another action')
  t.match(await post(nestedArgs(256)), { status: 200, result: 'hello ' }, '256 levels are sent')
  t.match(await post('{"args": ["[[[[ {{{ \\" [[[["]}'), { status: 200, result: 'hello [[[[ {{{ " [[[[' }, 'brackets inside strings do not count')
})
