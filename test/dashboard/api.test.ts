import t from 'tap'
import { app, add, echo, explode, sleep } from '../fixtures/dashboard-app.js'
import type { Dashboard } from '../../src/dashboard/dashboard.js'
import { until } from '../helpers/until.js'

// The HTTP API in-process, on memory:// with one embedded node sending events: every endpoint,
// its bad input, auth, read-only mode and the cross-site check.
const node = app.worker({ concurrency: 2, hostname: 'dash-api@%h', sendEvents: true })
const handler = app.dashboard({ maxTasks: 50 })
const locked = app.dashboard({ basicAuth: 'ada:s3cret', openPaths: ['/healthcheck'] })
const tokened = app.dashboard({ token: 'tok-123' })
const readOnly = app.dashboard({ readOnly: true })
let dashboard: Dashboard

t.before(async () => {
  dashboard = await handler.dashboard
  await Promise.all([locked.dashboard, tokened.dashboard, readOnly.dashboard])
  await node.start()
})
t.teardown(async () => {
  await node.stop()
  await Promise.all([handler.close(), locked.close(), tokened.close(), readOnly.close()])
  await app.close()
})

const BASE = 'http://127.0.0.1:5555'
async function call(path: string, init: RequestInit & { via?: typeof handler } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await (init.via ?? handler).fetch(new Request(BASE + path, init))
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // text body
  }
  return { status: response.status, body, headers: response.headers }
}
const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  call(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) })


t.test('healthcheck, config, the page and its vendored modules', async (t) => {
  t.same(await call('/healthcheck'), { status: 200, body: 'OK', headers: (await call('/healthcheck')).headers })
  t.match((await call('/api/config')).body, { readOnly: false, maxTasks: 50, broker: 'memory://dashfix' })
  const page = await call('/')
  t.equal(page.status, 200)
  t.match(page.body, /<script type="module" src="\/static\/main.js">/)
  t.match(page.headers.get('content-security-policy'), /script-src 'self';/)
  const preact = await call('/vendor/hooks.mjs')
  t.equal(preact.status, 200)
  t.match(preact.headers.get('content-type'), /javascript/)
  t.notMatch(preact.body, /from\s*"preact"/, 'the bare import is pointed at the served file')
  t.equal((await call('/vendor/uplot.mjs')).status, 200)
  t.equal((await call('/vendor/evil.mjs')).status, 404)
  t.equal((await call('/static/main.js')).status, 200)
  t.equal((await call('/static/..%2F..%2Fpackage.json')).status, 404, 'no file outside the static folder')
  t.same((await call('/nope')).body, { error: 'no such page: GET /nope' })
})

t.test('mounted under a prefix in Hono, the page links under it', async (t) => {
  const { Hono } = await import('hono')
  const mounted = app.dashboard({ prefix: '/flower' })
  t.teardown(() => mounted.close())
  const hono = new Hono()
  hono.mount('/flower', mounted.fetch)
  const page = await hono.fetch(new Request(BASE + '/flower/'))
  t.match(await page.text(), /data-prefix="\/flower"[\s\S]*src="\/flower\/static\/main.js"/)
  t.equal((await hono.fetch(new Request(BASE + '/flower/api/tasks?limit=1'))).status, 200)
  t.equal((await hono.fetch(new Request(BASE + '/flower/vendor/preact.mjs'))).status, 200)
})

t.test('allowedHosts refuses another Host (DNS rebinding)', async (t) => {
  const guarded = app.dashboard({ allowedHosts: ['127.0.0.1', 'localhost', '[::1]'] })
  t.teardown(() => guarded.close())
  const ask = (host: string) => guarded.fetch(new Request(BASE + '/api/config', { headers: { host } }))
  t.equal((await ask('127.0.0.1:5555')).status, 200)
  t.equal((await ask('[::1]:5555')).status, 200)
  const refused = await ask('evil.example:5555')
  t.equal(refused.status, 403)
  t.same(await refused.json(), { error: 'host "evil.example" is not allowed (allowedHosts: 127.0.0.1, localhost, [::1])' })
})

t.test('bad options are ConfigErrors naming the option', async (t) => {
  t.throws(() => app.dashboard({ basicAuth: 'nopassword' }), { name: 'ConfigError', message: 'dashboard basicAuth must be "user:pass"' })
  t.throws(() => app.dashboard({ maxTasks: 0 }), { name: 'ConfigError', message: 'dashboard maxTasks must be a positive integer, got 0' })
  t.throws(() => app.dashboard({ prefix: 'flower' }), { name: 'ConfigError', message: 'dashboard prefix must be a path like /flower, got "flower"' })
  t.throws(() => app.dashboard({ allowedHosts: ['localhost:5555'] }), { name: 'ConfigError', message: 'dashboard allowedHosts holds host names without a port, got "localhost:5555"' })
  t.throws(() => app.dashboard({ openPaths: ['/api/tasks' as '/metrics'] }), { name: 'ConfigError', message: 'dashboard openPaths may hold /healthcheck and /metrics, got "/api/tasks"' })
})

t.test('workers appear from their events, with stats', async (t) => {
  const workers = await until(() => call('/api/workers?refresh=1'), (r) => r.body[node.hostname]?.pid !== undefined, 'the node to show')
  t.match(workers.body[node.hostname], { hostname: node.hostname, status: 'online', pid: process.pid, threads: 2, held: 0, queues: ['celery'], swIdent: 'celeriac' })
  const detail = await call(`/api/worker/${encodeURIComponent(node.hostname)}`)
  t.equal(detail.status, 200)
  t.ok(detail.body.registered.includes('d.add'))
  t.same((await call('/api/worker/nobody@nowhere')).body, { error: 'no worker named nobody@nowhere was heard from' })
  t.equal((await call('/api/workers?refresh=maybe')).status, 400)
  t.same((await call('/api/workers?refresh=maybe')).body, { error: 'refresh must be true or false, got "maybe"' })
})

t.test('tasks: states, args, results, tracebacks, filters, search and paging', async (t) => {
  const ok = await add.delay(2, 3)
  const html = await echo.delay('<script>alert(1)</script>')
  const bad = await explode.delay('on purpose')
  await ok.get({ timeout: 5 })
  await html.get({ timeout: 5 })
  await t.rejects(bad.get({ timeout: 5 }))
  const info = await until(() => call(`/api/task/info/${bad.id}`), (r) => r.body.state === 'FAILURE' && r.body.traceback !== undefined, 'the failure to show')
  t.match(info.body, { id: bad.id, name: 'd.explode', state: 'FAILURE', args: '["on purpose"]', exception: 'Boom("exploded: on purpose")', source: 'events', worker: node.hostname })
  t.match(info.body.traceback, /explodeTask/)
  t.same(info.body.timeline.map((e: { state: string }) => e.state), ['PENDING', 'RECEIVED', 'STARTED', 'FAILURE'])
  await until(() => call(`/api/task/info/${html.id}`), (r) => r.body.state === 'SUCCESS', 'the echo to finish')
  const okInfo = await until(() => call(`/api/task/info/${ok.id}`), (r) => r.body.state === 'SUCCESS', 'the add to finish')
  t.match(okInfo.body, { args: '[2,3]', kwargs: '{}', result: '5', queue: 'celery' })
  t.type(okInfo.body.runtime, 'number')

  const all = await call('/api/tasks?limit=2')
  t.equal(all.body.total, 3)
  t.equal(all.body.tasks.length, 2)
  t.equal(all.body.tasks[0].id, bad.id, 'newest first')
  t.equal(all.body.tasks[0].timeline, undefined, 'the list leaves timelines out')
  t.equal((await call('/api/tasks?offset=2&limit=2')).body.tasks[0].id, ok.id)
  t.same((await call('/api/tasks?state=FAILURE')).body.tasks.map((r: { id: string }) => r.id), [bad.id])
  t.same((await call('/api/tasks?search=state:success%20name:d.add')).body.tasks.map((r: { id: string }) => r.id), [ok.id])
  t.same((await call('/api/tasks?search=alert(1)')).body.tasks.map((r: { id: string }) => r.id), [html.id], 'text search looks in args and results')
  t.same((await call(`/api/tasks?workername=${encodeURIComponent(node.hostname)}&taskname=d.echo`)).body.tasks.map((r: { id: string }) => r.id), [html.id])
  t.equal((await call(`/api/tasks?received_start=${Date.now() + 60_000}`)).body.total, 0)
  t.same((await call('/api/tasks?state=DONE')).body, { error: 'state: unknown state "DONE" (known: PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED, REJECTED)' })
  t.same((await call('/api/tasks?limit=0')).body, { error: 'limit must be an integer from 1 to 1000, got "0"' })
  t.same((await call('/api/tasks?offset=-1')).body, { error: 'offset must be an integer from 0 to 9007199254740991, got "-1"' })
  t.same((await call('/api/tasks?received_end=yesterday')).body, { error: 'received_end must be an ISO date or epoch ms, got "yesterday"' })
  t.equal((await call('/api/tasks?limit=0')).status, 400)

  t.same((await call(`/api/task/result/${ok.id}`)).body, { 'task-id': ok.id, state: 'SUCCESS', result: 5 })
  t.match((await call(`/api/task/result/${bad.id}`)).body, { state: 'FAILURE', result: 'Boom: exploded: on purpose', traceback: /explodeTask/ })
  t.same((await call('/api/task/result/unknown-id')).body, { 'task-id': 'unknown-id', state: 'PENDING', result: null })
  t.same((await call('/api/task/info/unknown-id')).body, { error: "unknown task unknown-id: not in the dashboard's memory nor in the result backend" })
  t.ok((await call('/api/task/types')).body['task-types'].includes('d.explode'))
})

t.test('a task dropped from memory is still found by id in the result backend', async (t) => {
  const first = await add.delay(40, 2)
  await first.get({ timeout: 5 })
  await until(() => dashboard.state.tasks.get(first.id)?.state, (s) => s === 'SUCCESS', 'the task to show')
  const many = await Promise.all(Array.from({ length: 60 }, (_, i) => add.delay(i, i)))
  await Promise.all(many.map((r) => r.get({ timeout: 10 })))
  await until(() => dashboard.state.tasks.size, () => !dashboard.state.tasks.has(first.id), 'the oldest to be dropped')
  t.ok(dashboard.state.tasks.size <= 50, 'memory is bounded by maxTasks')
  t.ok(dashboard.state.dropped > 0)
  t.match((await call(`/api/task/info/${first.id}`)).body, { id: first.id, state: 'SUCCESS', name: 'd.add', result: '42', source: 'backend' })
})

t.test('async-apply, revoke with terminate, retry', async (t) => {
  const sent = await post('/api/task/async-apply/d.add', { args: [20, 22] })
  t.equal(sent.status, 200)
  t.equal(sent.body.state, 'PENDING')
  t.equal(await app.asyncResult(sent.body['task-id']).get({ timeout: 5 }), 42)
  t.same((await post('/api/task/async-apply/d.add', { args: 'nope' })).body, { error: 'args must be an array, got "nope"' })
  t.same((await post('/api/task/async-apply/d.add', { args: [1], options: { when: 1 } })).body, { error: 'unknown option "when" (known: countdown, eta, expires, queue, priority)' })
  t.same((await post('/api/task/async-apply/d.add', { args: [1] })).body, { error: 'd.add takes 2 arguments, got 1' })
  const broken = await call('/api/task/async-apply/d.add', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"args": [1,' })
  t.equal(broken.status, 400)
  t.match(broken.body.error, /^the body is not valid JSON: /)
  // As Flower: async-apply sends only what the app registers; send-task sends any name.
  const typo = await post('/api/task/async-apply/d.ad', { args: [1, 2] })
  t.equal(typo.status, 404)
  t.same(typo.body, { error: 'unknown task "d.ad": not registered in this dashboard\'s app (did you mean "d.add"?); /api/task/send-task/:name sends any name without checking' })
  const byName = await post('/api/task/send-task/elsewhere.only', { args: [1], options: { queue: 'elsewhere' } })
  t.equal(byName.status, 200, 'send-task does not check the name')
  t.match(byName.body, { state: 'PENDING' })

  const long = await sleep.delay(5_000)
  await until(() => dashboard.state.tasks.get(long.id)?.state, (s) => s === 'STARTED', 'the sleep to start')
  const revoked = await post(`/api/task/revoke/${long.id}`, { terminate: true })
  t.same(revoked.body, { message: `Revoked '${long.id}' and terminated it where it runs` })
  await until(() => dashboard.state.tasks.get(long.id)?.state, (s) => s === 'REVOKED', 'the sleep to be revoked')
  t.same((await post('/api/task/revoke/x', { terminate: 'perhaps' })).body, { error: 'terminate must be true or false, got "perhaps"' })

  const original = await add.delay(1, 1)
  await original.get({ timeout: 5 })
  await until(() => dashboard.state.tasks.get(original.id)?.args, (a) => a !== undefined, 'its args to show')
  const again = await post(`/api/task/retry/${original.id}`)
  t.equal(again.body.retryOf, original.id)
  t.equal(await app.asyncResult(again.body['task-id']).get({ timeout: 5 }), 2)
  t.equal((await post('/api/task/retry/never-seen')).status, 404)
})

t.test('workers - running and reserved apart, load over slots (operator audit: "Active 66", "Load 3300 %")', async (t) => {
  const name = encodeURIComponent(node.hostname)
  // A rate limit holds the second and third: received (reserved), not run.
  t.equal((await post('/api/task/rate-limit/d.sleep', { ratelimit: '1/m', workername: node.hostname })).status, 200)
  const sent = await Promise.all([sleep.delay(4000), sleep.delay(4000), sleep.delay(4000)])
  t.teardown(async () => {
    for (const r of sent) await post(`/api/task/revoke/${r.id}`, { terminate: true })
    await post('/api/task/rate-limit/d.sleep', { ratelimit: '0', workername: node.hostname })
  })
  const workers = await until(() => call('/api/workers?refresh=1'), (r) => r.body[node.hostname]?.reserved === 2, 'two tasks to wait for the rate limit')
  t.match(workers.body[node.hostname], { running: 1, reserved: 2, tasksPerThread: 32, slots: 64, load: 1 / 64 })
  const detail = await call(`/api/worker/${name}`)
  t.match(detail.body, { running: 1, reserved: 2 })
  t.equal(detail.body.activeTasks.length, 1)
  t.equal(detail.body.reservedTasks.length, 2)
})

t.test('worker actions: pool, consumers, limits; bad input is 400', async (t) => {
  const name = encodeURIComponent(node.hostname)
  t.match((await post(`/api/worker/pool/grow/${name}`, { n: 1 })).body, { message: /: pool will grow to 3 threads$/ })
  await until(() => call('/api/workers?refresh=1'), (r) => r.body[node.hostname].threads === 3, 'the pool to grow')
  t.equal((await post(`/api/worker/pool/shrink/${name}?n=1`)).status, 200)
  t.same((await post(`/api/worker/pool/grow/${name}`, { n: 0 })).body, { error: 'n must be an integer from 1 to 64, got 0' })
  t.equal((await post(`/api/worker/queue/add-consumer/${name}`, { queue: 'extra' })).status, 200)
  await until(() => call('/api/workers?refresh=1'), (r) => r.body[node.hostname].queues.includes('extra'), 'the consumer to show')
  t.equal((await post(`/api/worker/queue/cancel-consumer/${name}`, { queue: 'extra' })).status, 200)
  t.same((await post(`/api/worker/queue/add-consumer/${name}`, {})).body, { error: 'queue must be a non-empty name of at most 255 characters, got undefined' })
  t.equal((await post('/api/task/rate-limit/d.add', { ratelimit: '100/s', workername: node.hostname })).status, 200)
  t.equal((await post('/api/task/rate-limit/d.add', { ratelimit: 'fast' })).status, 400)
  t.equal((await post('/api/task/timeout/d.sleep', { soft: 10, hard: 20, workername: node.hostname })).status, 200)
  t.same((await post('/api/task/timeout/d.sleep', { soft: -1 })).body, { error: 'soft must be a positive number of seconds, got -1' })
  t.same((await post('/api/worker/pool/grow/nobody@nowhere')).body, { error: 'worker nobody@nowhere did not answer within 5 s' })
  t.equal((await call(`/api/worker/pool/grow/${name}`)).status, 405, 'actions are POST only')
})

t.test('queues: length, stats, dead letters and replay', async (t) => {
  const lengths = await call('/api/queues/length')
  t.match(lengths.body.active_queues, [{ name: 'celery', messages: 0 }])
  const stats = await call('/api/queues')
  t.match(stats.body.queues.find((q: { name: string }) => q.name === 'celery'), { name: 'celery', ready: 0, consumers: 1, deadLetters: 0 })
  t.same((await call('/api/queues/celery/dead-letters')).body, { queue: 'celery', deadLetters: [] })
  t.same((await post('/api/queues/celery/dead-letters/replay')).body, { queue: 'celery', replayed: 0 })
})

t.test('beat and overview', async (t) => {
  const beat = await call('/api/beat')
  t.match(beat.body, { store: 'none', leaseHolder: null, entries: [{ name: 'tick every 30 s', task: 'd.add', args: [1, 2], lastRun: null }] })
  t.type(beat.body.entries[0].nextRun, 'number')
  const overview = await call('/api/overview?span=60')
  t.equal(overview.body.series.length, 60)
  t.ok(overview.body.series.some((p: { succeeded: number }) => p.succeeded > 0))
  t.ok(overview.body.states.SUCCESS > 0)
  t.same((await call('/api/overview?span=5')).body, { error: 'span must be an integer from 10 to 600 seconds, got "5"' })
})

t.test('metrics in Prometheus text, with the observability names', async (t) => {
  const metrics = await call('/metrics')
  t.equal(metrics.status, 200)
  t.match(metrics.headers.get('content-type'), /text\/plain/)
  t.match(metrics.body, /celeriac_tasks_failed_total\{task="d.explode",queue="celery"\} 1\n/)
  t.match(metrics.body, /celeriac_tasks_succeeded_total\{task="d.add",queue="celery"\} \d+/)
  t.match(metrics.body, /celeriac_task_runtime_seconds_count\{task="d.add",queue="celery"\} \d+/)
  t.match(metrics.body, /celeriac_queue_messages\{queue="celery",state="ready"\} 0/)
  t.match(metrics.body, /celeriac_worker_online\{hostname="dash-api@[^"]+"\} 1/)
  t.match(metrics.body, /process_cpu_seconds_total/)
})

t.test('auth: basic auth on every page and API call, healthcheck open by option', async (t) => {
  const denied = await call('/api/workers', { via: locked })
  t.equal(denied.status, 401)
  t.same(denied.body, { error: 'authentication required' })
  t.match(denied.headers.get('www-authenticate'), /^Basic realm=/)
  t.equal((await call('/', { via: locked })).status, 401)
  t.equal((await call('/metrics', { via: locked })).status, 401)
  t.equal((await call('/api/workers', { via: locked, headers: { authorization: 'Basic ' + Buffer.from('ada:wrong').toString('base64') } })).status, 401)
  t.equal((await call('/api/workers', { via: locked, headers: { authorization: 'Basic ' + Buffer.from('ada:s3cret').toString('base64') } })).status, 200)
  t.equal((await call('/healthcheck', { via: locked })).status, 200)

  t.equal((await call('/api/tasks', { via: tokened })).status, 401)
  t.equal((await call('/healthcheck', { via: tokened })).status, 401, 'healthcheck too, unless opened')
  t.equal((await call('/api/tasks', { via: tokened, headers: { authorization: 'Bearer tok-123' } })).status, 200)
  const byQuery = await call('/?token=tok-123', { via: tokened })
  t.equal(byQuery.status, 200)
  t.match(byQuery.headers.get('set-cookie'), /^celeriac_dashboard_token=tok-123; HttpOnly; SameSite=Strict/)
  t.equal((await call('/api/tasks', { via: tokened, headers: { cookie: 'celeriac_dashboard_token=tok-123' } })).status, 200)
  t.equal((await call('/api/tasks', { via: tokened, headers: { cookie: 'celeriac_dashboard_token=nope' } })).status, 401)
})

t.test('read-only refuses every action; the cross-site check refuses another origin', async (t) => {
  const refused = await call('/api/task/revoke/abc', { via: readOnly, method: 'POST' })
  t.equal(refused.status, 403)
  t.same(refused.body, { error: 'read-only dashboard: actions are disabled' })
  t.equal((await call('/api/worker/shutdown/x', { via: readOnly, method: 'POST' })).status, 403)
  t.match((await call('/api/config', { via: readOnly })).body, { readOnly: true })

  const cross = await post('/api/task/async-apply/d.add', { args: [1, 2] }, { origin: 'https://evil.example' })
  t.equal(cross.status, 403)
  t.same(cross.body, { error: 'cross-site request refused (Origin https://evil.example)' })
  t.equal((await post('/api/task/async-apply/d.add', { args: [1, 2] }, { 'sec-fetch-site': 'cross-site' })).status, 403)
  t.equal((await post('/api/task/async-apply/d.add', { args: [1, 2] }, { origin: 'null' })).status, 403)
  t.equal((await post('/api/task/async-apply/d.add', { args: [1, 2] }, { origin: BASE, host: '127.0.0.1:5555' })).status, 200, 'the same origin passes')
})

t.test('the live stream sends batches of changed tasks', async (t) => {
  const response = await handler.fetch(new Request(BASE + '/api/events'))
  t.equal(response.headers.get('content-type'), 'text/event-stream')
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const sent = await add.delay(7, 7)
  while (!text.includes(sent.id)) text += decoder.decode((await reader.read()).value)
  t.match(text, /^retry: 2000\nevent: hello\n/)
  t.match(text, /event: batch\ndata: \{"tasks":\[/)
  await reader.cancel()
})
