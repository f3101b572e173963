import t from 'tap'
import { createServer, type Server } from 'node:http'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../src/testing/index.js'
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js'
import { celeriac } from '../helpers/cli.js'
import type { Browser, Page } from 'playwright-core'
import type { App } from '../../src/index.js'
import type { DashboardHandler } from '../../src/dashboard/handler.js'

// The real page in headless Chromium, on NATS, with a worker in its own process and tasks sent
// by `celeriac call` from another one: what a user of the dashboard sees.
const CHROMIUM = '/usr/bin/chromium'
const missing = !natsServerAvailable() || !existsSync(CHROMIUM) ? `needs nats-server and ${CHROMIUM} (apt-get install nats-server chromium)` : undefined
if (missing) t.test('the dashboard in a browser', { skip: missing }, () => {})
else register()

function register(): void {

const fixture = fileURLToPath(new URL('../fixtures/dashboard-app.ts', import.meta.url))
let nats: NatsServer
let env: Record<string, string>
let app: App
let worker: WorkerProcess
let browser: Browser
const servers: { handler: DashboardHandler; server: Server; url: string }[] = []

async function serve(options: Parameters<App['dashboard']>[0]): Promise<string> {
  const handler = app.dashboard(options)
  await handler.dashboard
  const server = createServer(handler).listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
  servers.push({ handler, server, url })
  return url
}

/** Sends a task from another process, as a user's client would; resolves to its id. */
async function call(task: string, args: unknown[], extra: string[] = []): Promise<string> {
  const run = await celeriac(['call', task, '-A', fixture, '-a', JSON.stringify(args), ...extra], env)
  if (run.code !== 0) throw new Error(`celeriac call failed: ${run.stderr}`)
  return run.stdout.trim()
}

let main: string
t.before(async () => {
  nats = await startNatsServer()
  env = { CELERIAC_BROKER_URL: nats.url, CELERIAC_RESULT_BACKEND: 'nats://' }
  Object.assign(process.env, env)
  app = (await import('../fixtures/dashboard-app.js')).app
  main = await serve({})
  const { chromium } = await import('playwright-core')
  ;[browser, worker] = await Promise.all([
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] }),
    startWorkerProcess({ app: fixture, hostname: 'browser-w1@%h', args: ['-E', '-c', '2'], env }),
  ])
})
t.teardown(async () => {
  await browser?.close()
  await worker?.stop()
  for (const { handler, server } of servers) {
    server.closeAllConnections()
    server.close()
    await handler.close()
  }
  await app?.close()
  await nats?.stop()
})

async function open(url: string, hash: string, page?: Page): Promise<Page> {
  page ??= await browser.newPage({ viewport: { width: 1280, height: 720 } })
  page.on('pageerror', (error) => pageErrors.push(`${hash}: ${error.message}`))
  await page.goto(url + hash)
  return page
}

const pageErrors: string[] = []
let failedId: string
let workerName: string

t.test('workers appear with their stats', async (t) => {
  const page = await open(main, '#/workers')
  const row = page.locator('#workers tr[data-worker^="browser-w1@"]')
  await row.locator('.badge.online').waitFor()
  await row.locator('td:nth-child(4)', { hasText: String(worker.child.pid) }).waitFor({ timeout: 15_000 })
  t.match(await row.textContent(), /online.*celery/)
  workerName = (await row.getAttribute('data-worker'))!
  // Operator audit: "Load 3300 %" (active over threads), "Uptime 39.00 s".
  await row.locator('td.load', { hasText: '(64 slots)' }).waitFor()
  t.equal(await row.locator('td.load').textContent(), '0 % (64 slots)', 'running over threads x tasks per thread')
  t.equal(await row.locator('td.tasks').textContent(), '0 running')
  t.match(await row.locator('td.uptime').textContent(), /^(\d+ s|\d+ min( \d+ s)?)$/)
  await page.close()
})

t.test('overview - one queue-depth sample spans a minute, labels are times on one line (operator audit)', async (t) => {
  const page = await open(main, '#/overview')
  const depth = page.locator('#queue-depth [data-x-labels]')
  await depth.waitFor()
  const labels = (await depth.getAttribute('data-x-labels'))!.split('|')
  t.ok(labels.length >= 2 && labels.every((l) => /^\d\d:\d\d:\d\d$/.test(l)), `times, not dates: ${labels.join(' ')}`)
  const seconds = labels.map((l) => l.split(':').reduce((a, b) => a * 60 + Number(b), 0))
  t.ok((seconds.at(-1)! - seconds[0] + 86_400) % 86_400 <= 60, `within a minute: ${labels.join(' ')}`)
  t.match(await page.locator('#runtime .u-legend').textContent(), /p50.*p95.*p99/, 'three series in the legend')
  await page.close()
})

t.test('header - the live indicator says when the server fails, and recovers (operator audit: "● live" on 500s)', async (t) => {
  const handler = app.dashboard({})
  await handler.dashboard
  let mode: 'ok' | 'api' | 'down' = 'ok'
  const server = createServer((req, res) => {
    const api = req.url!.startsWith('/api/') && !req.url!.startsWith('/api/events')
    if (mode === 'down' || (mode === 'api' && api)) return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"injected"}')
    handler(req, res)
  }).listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    server.close()
    await handler.close()
  })
  const page = await open(`http://127.0.0.1:${(server.address() as { port: number }).port}/`, '#/overview')
  const live = page.locator('header .live')
  await live.filter({ hasText: /^● live$/ }).waitFor()
  mode = 'api'
  await live.filter({ hasText: /^● server errors · stale since \d\d:\d\d:\d\d$/ }).waitFor({ timeout: 5000 })
  mode = 'down'
  server.closeAllConnections()
  await live.filter({ hasText: /^● reconnecting · stale since \d\d:\d\d:\d\d$/ }).waitFor({ timeout: 5000 })
  mode = 'ok'
  await live.filter({ hasText: /^● live$/ }).waitFor({ timeout: 15_000 })
  t.pass('back to live once data flows')
  await page.close()
})

t.test('tasks sent from another process appear live with their states; search and filters', async (t) => {
  const page = await open(main, '#/tasks')
  await page.locator('#tasks').waitFor()
  const sent = Date.now()
  const okId = await call('d.add', [2, 3])
  failedId = await call('d.explode', ['on purpose'])
  const ok = page.locator(`tr[data-task="${okId}"]`)
  await ok.locator('.state-success').waitFor()
  t.ok(Date.now() - sent < 15_000)
  t.match(await ok.textContent(), /d\.add.*\[2,3\].*5.*browser-w1@/)
  await page.locator(`tr[data-task="${failedId}"] .state-failure`).waitFor()

  await page.fill('#search', 'state:failure')
  await page.click('button[type=submit]')
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#tasks tbody tr[data-task]').length === 1)
  t.equal(await page.locator('#tasks tbody tr[data-task]').getAttribute('data-task'), failedId, 'state: search keeps the failure')
  await page.fill('#search', 'name:d.add')
  await page.click('button[type=submit]')
  await page.waitForFunction((id) => [...(globalThis as any).document.querySelectorAll('#tasks tbody tr[data-task]')].map((r: any) => r.getAttribute('data-task')).join() === id, okId)
  await page.click('text=clear')
  await page.selectOption('#state-filter', 'SUCCESS')
  await page.waitForFunction((id) => [...(globalThis as any).document.querySelectorAll('#tasks tbody tr[data-task]')].map((r: any) => r.getAttribute('data-task')).join() === id, okId)
  t.match(page.url(), /#\/tasks\?state=SUCCESS$/)
  await page.close()
})

t.test('a task detail shows its state timeline and traceback', async (t) => {
  const page = await open(main, `#/task/${failedId}`)
  await page.locator('#traceback').waitFor()
  t.match(await page.textContent('#traceback'), /Boom: exploded: on purpose[\s\S]*explodeTask/)
  t.equal(await page.textContent('#exception'), 'Boom("exploded: on purpose")')
  const states = await page.locator('#timeline tbody tr td:nth-child(2)').allTextContents()
  t.same(states, ['PENDING', 'RECEIVED', 'STARTED', 'FAILURE'])
  t.equal(await page.textContent('#args'), '["on purpose"]')
  await page.close()
})

t.test("a chain step's page draws its canvas: three linked nodes in a row", async (t) => {
  const { chain } = await import('../../src/index.js')
  const { add } = await import('../fixtures/dashboard-app.js')
  const last = await chain(add.s(1, 2), add.s(3), add.s(4)).applyAsync()
  t.equal(await last.get({ timeout: 15_000 }), 10)
  const second = last.parent!
  const ids = [second.parent!.id, second.id, last.id]
  const page = await open(main, `#/task/${second.id}`)
  const nodes = page.locator('#canvas-graph a.gnode')
  // The last step's events may reach the dashboard after get(): the page reloads on them.
  await page.locator(`#canvas-graph a.gnode.state-success[data-id="${last.id}"]`).waitFor({ timeout: 10_000 })
  t.same(await nodes.evaluateAll((as) => as.map((a) => a.getAttribute('data-id'))), ids)
  t.same(await nodes.evaluateAll((as) => as.map((a) => a.getAttribute('href'))), ids.map((id) => `#/task/${id}`))
  const lefts = await nodes.evaluateAll((as) => as.map((a) => (a as any).getBoundingClientRect().left))
  t.ok(lefts[0] < lefts[1] && lefts[1] < lefts[2], 'in a row, root first')
  t.equal(await page.locator('#canvas-graph a.gnode.self').getAttribute('data-id'), second.id, 'the task shown is highlighted')
  t.equal(await page.locator('#canvas-graph path').count(), 2, 'two edges')
  await nodes.nth(2).click()
  await page.waitForURL(`**#/task/${last.id}`)
  await page.locator('h1', { hasText: 'd.add' }).waitFor()
  await page.close()
})

t.test('revoke from the page terminates a running task', async (t) => {
  const { id } = await app.sendTask('d.sleep', [60_000])
  const page = await open(main, `#/task/${id}`)
  await page.locator('h1 .state-started').waitFor({ timeout: 15_000 })
  await page.click('#terminate')
  await page.locator('.notice.ok', { hasText: `Revoked '${id}'` }).waitFor()
  await page.locator('h1 .state-revoked').waitFor({ timeout: 10_000 })
  t.equal((await (await app.backend()).get(id))?.state, 'REVOKED', 'the result backend says so too')
  await page.close()
})

t.test('an argument holding <script> is shown as text', async (t) => {
  const { id } = await app.sendTask('d.echo', ['<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'])
  const page = await open(main, `#/task/${id}`)
  await page.locator('h1 .state-success').waitFor({ timeout: 15_000 })
  t.equal(await page.textContent('#args'), '["<script>window.__pwned = 1</script><img src=x onerror=\\"window.__pwned = 2\\">"]')
  t.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, 'nothing ran')
  t.equal(await page.locator('main script, main img').count(), 0, 'no element was made from it')
  await page.goto(main + '#/tasks')
  await page.locator(`tr[data-task="${id}"]`).waitFor()
  t.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined)
  await page.close()
})

t.test('the queue page shows the depth and oldest age of what was sent', async (t) => {
  const first = Date.now()
  for (let i = 0; i < 3; i++) await app.sendTask('d.add', [i, i], { queue: 'held' })
  const page = await open(main, '#/queues')
  const row = page.locator('#queues tr[data-queue="held"]')
  await row.locator('td.ready', { hasText: /^3$/ }).waitFor({ timeout: 10_000 })
  const age = Number.parseFloat((await row.locator('td.oldest').textContent())!)
  t.ok(age >= 0 && age <= (Date.now() - first) / 1000 + 1, `oldest age ${age} s is the first send's age`)
  t.match(await row.textContent(), /^held3/, 'name then ready')
  await page.close()
})

t.test('read-only mode shows no action and the API refuses one', async (t) => {
  const url = await serve({ readOnly: true })
  const page = await open(url, `#/task/${failedId}`)
  await page.locator('#timeline').waitFor()
  t.equal(await page.locator('#revoke, #terminate, #retry, section.actions').count(), 0)
  await page.goto(url + `#/worker/${encodeURIComponent(workerName)}`)
  await page.locator('dl.facts').waitFor()
  t.equal(await page.locator('section.actions, button.danger').count(), 0)
  const refused = await page.evaluate(async () => {
    const response = await fetch('api/task/revoke/x', { method: 'POST' })
    return { status: response.status, body: await response.json() }
  })
  t.same(refused, { status: 403, body: { error: 'read-only dashboard: actions are disabled' } })
  await page.close()
})

t.test('auth is required when set', async (t) => {
  const url = await serve({ basicAuth: 'ada:s3cret' })
  const anonymous = await browser.newPage()
  // Headless Chromium cannot answer the basic-auth prompt: the navigation fails with the 401.
  await t.rejects(anonymous.goto(url), /ERR_INVALID_AUTH_CREDENTIALS/)
  t.equal((await anonymous.request.get(url + 'api/workers')).status(), 401)
  t.equal((await anonymous.request.get(url + 'static/main.js')).status(), 401)
  await anonymous.close()
  const context = await browser.newContext({ httpCredentials: { username: 'ada', password: 's3cret' } })
  const page = await open(url, '#/workers', await context.newPage())
  await page.locator('#workers tr[data-worker^="browser-w1@"]').waitFor()
  await context.close()
})

t.test('a stopped worker goes offline on the page', async (t) => {
  const page = await open(main, '#/workers')
  const row = page.locator('#workers tr[data-worker^="browser-w1@"]')
  await row.locator('.badge.online').waitFor()
  if (process.env.DASHBOARD_SCREENSHOT) {
    // `DASHBOARD_SCREENSHOT=1 npx tap test/dashboard/browser.test.ts` refreshes the README's picture.
    await page.goto(main + '#/tasks')
    await page.locator('#tasks tbody tr[data-task]').first().waitFor()
    await page.screenshot({ path: fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url)) })
    await page.goto(main + '#/workers')
  }
  await worker.stop()
  await row.locator('.badge.offline').waitFor({ timeout: 10_000 })
  t.pass('went offline')
  await page.close()
})

t.test("header - the dashboard's own lost broker link shows as such, not as live (outside audit)", async (t) => {
  const page = await open(main, '#/workers')
  const live = page.locator('header .live')
  await live.filter({ hasText: /^● live$/ }).waitFor()
  await nats.stop()
  await live.filter({ hasText: /^● broker unreachable · stale since \d\d:\d\d:\d\d$/ }).waitFor({ timeout: 5000 })
  t.match(await live.getAttribute('title'), /cannot reach the broker/, 'the tooltip says what it means')
  await nats.restart()
  await live.filter({ hasText: /^● live$/ }).waitFor({ timeout: 15_000 })
  t.pass('live again once the broker is back')
  await page.close()
})

t.test('no page had a script error', async (t) => {
  t.same(pageErrors, [])
})
}
