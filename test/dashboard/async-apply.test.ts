import t from 'tap'
import { app } from '../fixtures/dashboard-send-app.js'

// Outside audit: POST /api/task/async-apply ignored keys it did not know and bodies it could
// not read: {"arg": [...]} (a typo of args) or a form body answered 200 and sent the task
// without its arguments. Unknown keys are refused, naming the key and the one meant; a body
// that is not JSON is a 415. Flower's curl example, a JSON body sent as a form
// (curl -d '{"args": [1, 2]}'), still works.
const node = app.worker({ concurrency: 1, hostname: 'dash-send@%h' })
const handler = app.dashboard()
const tokened = app.dashboard({ token: 'tok-123' })
t.before(async () => {
  await Promise.all([handler.dashboard, tokened.dashboard])
  await node.start()
})
t.teardown(async () => {
  await node.stop()
  await Promise.all([handler.close(), tokened.close()])
  await app.close()
})

async function send(body: string | undefined, contentType: string | undefined, path = '/api/task/async-apply/s.greet', via = handler) {
  const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType }
  const response = await via.fetch(new Request(`http://127.0.0.1:5555${path}`, { method: 'POST', headers, ...(body === undefined ? {} : { body }) }))
  const answer = (await response.json()) as { error?: string; 'task-id'?: string }
  const result = answer['task-id'] ? await app.asyncResult(answer['task-id']).get({ timeout: 5 }) : undefined
  return { status: response.status, error: answer.error, result }
}

t.test('async-apply - the arguments given are the arguments sent', async (t) => {
  t.match(await send('{"args": ["ada"]}', 'application/json'), { status: 200, result: 'hello ada' })
  t.match(await send('{"args": ["ada"]}', 'application/json; charset=utf-8', '/api/task/send-task/s.greet'), { status: 200, result: 'hello ada' }, 'send-task too')
  t.match(await send('{"args": ["ada"], "kwargs": {}, "options": {"countdown": 0}}', 'application/json'), { status: 200, result: 'hello ada' }, 'args, kwargs and options together')
  t.match(await send(undefined, undefined), { status: 200, result: 'hello world' }, 'no body: no arguments')
  t.match(await send('{}', 'application/json'), { status: 200, result: 'hello world' }, 'an empty object: no arguments')
  t.match(await send('{"args": ["ada"]}', 'application/x-www-form-urlencoded'), { status: 200, result: 'hello ada' }, 'JSON sent as a form, as curl -d sends it (Flower\'s example)')
  t.match(await send('{"args": ["ada"]}', 'application/json', '/api/task/async-apply/s.greet?token=tok-123', tokened), { status: 200, result: 'hello ada' }, 'the token in the query string is no parameter')
})

t.test('async-apply - an unknown key is refused, naming the key meant', async (t) => {
  t.same(await send('{"arg": ["ada"]}', 'application/json'), { status: 400, error: 'unknown parameter "arg" (did you mean "args"?); known: args, kwargs, options', result: undefined })
  t.same(await send('{"args": ["ada"], "kwarg": {}}', 'application/json'), { status: 400, error: 'unknown parameter "kwarg" (did you mean "kwargs"?); known: args, kwargs, options', result: undefined })
  t.same(await send('{"args": ["ada"], "countdown": 5}', 'application/json'), { status: 400, error: 'unknown parameter "countdown" (did you mean "options.countdown"?); known: args, kwargs, options', result: undefined })
  t.same(await send('{"name": "ada"}', 'application/json'), { status: 400, error: 'unknown parameter "name"; known: args, kwargs, options', result: undefined })
  t.same(await send(undefined, undefined, '/api/task/async-apply/s.greet?arg=ada'), { status: 400, error: 'unknown parameter "arg" (did you mean "args"?); known: args, kwargs, options', result: undefined }, 'in the query string too')
})

t.test('async-apply - a body that is not JSON is a 415 that says what to send', async (t) => {
  const expected = (type: string) => `the body must be a JSON object such as {"args": [1, 2], "kwargs": {}, "options": {"countdown": 10}}, sent with Content-Type: application/json; got ${type}`
  t.same(await send('args=ada', 'application/x-www-form-urlencoded'), { status: 415, error: expected('application/x-www-form-urlencoded'), result: undefined })
  t.same(await send('args=ada', undefined), { status: 415, error: expected('text/plain'), result: undefined }, 'fetch calls a string body text/plain')
  const form = new FormData()
  form.set('args', '["ada"]')
  const response = await handler.fetch(new Request('http://127.0.0.1:5555/api/task/async-apply/s.greet', { method: 'POST', body: form }))
  t.equal(response.status, 415, 'a multipart form')
  t.same(await response.json(), { error: expected('multipart/form-data') })
  t.match(await send('{"args": ["ada"]', 'application/json'), { status: 400, error: /^the body is not valid JSON: / }, 'broken JSON sent as JSON stays a 400')
  t.same(await send('["ada"]', 'application/json'), { status: 400, error: 'the body must be a JSON object', result: undefined })
})
