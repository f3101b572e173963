import t from 'tap'
import { encodeMessage } from '../../src/protocol/envelope.js'
import { group, InvalidArgumentError, NotRegistered, RemoteError, SerializationError, TimeoutError, TaskState } from '../../src/index.js'
import { app, add, sum, echo, decline, badResult, request, counter, whoami, linked, patient } from '../fixtures/app.js'
import { Latch } from '../../src/testing/latch.js'

const node = app.worker({ concurrency: 2, prefetch: 4, hostname: 'calling@%h', sendEvents: true })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
})

t.test('calling - delay sends the task and get returns its result', async (t) => {
  const result = await add.delay(2, 2)
  t.match(result.id, /^[0-9a-f-]{36}$/)
  t.equal(await result.get({ timeout: 5 }), 4)
  t.equal(await result.state(), TaskState.SUCCESS)
  t.equal(await result.ready(), true)
  t.equal(await result.successful(), true)
  t.equal(await result.failed(), false)
  t.equal(await result.result(), 4)
})

t.test('calling - applyAsync passes kwargs as a trailing object, with taskId and headers', async (t) => {
  const result = await echo.applyAsync(['x'], { kwargs: { flag: true }, taskId: 'my-id-1', headers: { tenant: 'acme' } })
  t.equal(result.id, 'my-id-1')
  t.same(await result.get({ timeout: 5 }), { value: 'x', options: { flag: true } })
  const req = (await (await request.applyAsync([], { headers: { tenant: 'acme' }, countdown: 0.01 })).get({ timeout: 5 })) as Record<string, any>
  t.equal(req.headers.tenant, 'acme')
  t.equal(req.retries, 0)
  t.equal(req.hostname, node.hostname)
  t.equal(req.rootId, req.id)
  t.equal(req.deliveryInfo.queue, 'celery')
  t.equal(req.isEager, false)
  t.type(req.eta, 'string')
})

t.test('calling - kwargs given at send time merge with a signature\'s own, and win (Celery: dict(sig.kwargs, **kwargs))', async (t) => {
  const sig = echo.signature(['x'], { a: 1, b: 1 })
  t.same(await (await sig.applyAsync([], { kwargs: { b: 2, c: 3 } })).get({ timeout: 5 }), { value: 'x', options: { a: 1, b: 2, c: 3 } })
  t.same(await (await sig.applyAsync()).get({ timeout: 5 }), { value: 'x', options: { a: 1, b: 1 } })
})

t.test('calling - sendTask calls a task by name without importing it', async (t) => {
  const result = await app.sendTask<number>('t.add', [20, 22])
  t.equal(await result.get({ timeout: 5 }), 42)
})

t.test('calling - call() runs the task here, without a message', async (t) => {
  t.equal(await add.call(1, 2), 3)
  const req = await request.call()
  t.equal(req.isEager, true)
})

t.test('calling - wrong arity is refused at call time, unless typing is off', async (t) => {
  await t.rejects(add.delay(...([1] as unknown as [number, number])), new InvalidArgumentError('t.add takes 2 arguments, got 1'))
  await t.rejects(add.applyAsync([1, 2, 3] as unknown as [number, number]), { name: 'InvalidArgumentError', message: 't.add takes 2 arguments, got 3' })
  await t.rejects(echo.applyAsync([1, {}, 3] as never), { message: 't.echo takes 1 to 2 arguments, got 3' })
  t.equal(await (await sum.delay(1, 2, 3, 4)).get({ timeout: 5 }), 10, 'rest parameters take any count')
  const loose = await app.sendTask('t.sum', [], { })
  t.equal(await loose.get({ timeout: 5 }), 0)
})

t.test('calling - an unserialisable argument is refused at call time with its path', async (t) => {
  await t.rejects(echo.delay({ callback: () => 1 }), new SerializationError('t.echo args[0].callback is a function and cannot be serialized'))
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  await t.rejects(echo.delay(cyclic), { name: 'SerializationError', message: 't.echo args[0].self is a circular reference and cannot be serialized' })
  await t.rejects(echo.delay(JSON.parse('{"a":{"__proto__":{"polluted":1}}}')), { name: 'SerializationError', message: 't.echo args[0].a.__proto__ is a key named __proto__, which cannot be carried as it is (it would arrive renamed)' })
})

t.test('calling - bad call options are refused naming the option', async (t) => {
  await t.rejects(add.applyAsync([1, 2], { countdown: 'soon' }), { name: 'InvalidArgumentError', message: /^countdown must be/ })
  await t.rejects(add.applyAsync([1, 2], { priority: 12 }), { message: 'priority must be an integer from 0 to 9, got 12' })
  await t.rejects(add.applyAsync([1, 2], { eta: new Date('nonsense') }), { message: 'eta must be a valid Date' })
  // A task id a worker would dead-letter (issue 19) is refused before it is sent.
  await t.rejects(add.applyAsync([1, 2], { taskId: 'x'.repeat(257) }), new InvalidArgumentError('t.add: options.taskId must be a non-empty string of at most 256 characters'))
  await t.rejects(app.sendTask('x'.repeat(300), []), new InvalidArgumentError('task name must be a non-empty string of at most 256 characters'))
  // Celery's @app.task derives a name; here the name comes first.
  t.throws(() => app.task((() => 1) as never, {} as never), new InvalidArgumentError("app.task(name, fn, options): a task is named first, as it is sent by name (Celery derives 'module.fn'; e.g. app.task('tasks.add', add))"))
})

t.test('calling - what TypeScript would refuse is refused at run time too, before anything is sent', async (t) => {
  // As JavaScript, JSON or `as any` give them: each would have been sent, and lost or run wrong.
  const loose = add as unknown as { applyAsync(args: unknown[], options: unknown): Promise<unknown> }
  await t.rejects(loose.applyAsync([1, 2], { cuntdown: 5 }), new InvalidArgumentError('t.add: unknown calling option cuntdown (did you mean countdown?)'))
  await t.rejects(loose.applyAsync([1, 2], { routing_key: 'x' }), { message: 't.add: unknown calling option routing_key (did you mean routingKey?)' })
  await t.rejects(loose.applyAsync([1, 2], { retryPolicy: { max_retries: 3 } }), { message: /^t\.add: options\.retryPolicy is not a celeriac calling option: celeriac retries a send by itself/ })
  await t.rejects(app.sendTask('t.add', [1, 2], { priorty: 3 } as never), { message: 't.add: unknown calling option priorty (did you mean priority?)' })
  t.throws(() => add.s(1, 2).set({ queeu: 'x' } as never), { message: 'set: unknown calling option queeu (did you mean queue?)' })
  await t.rejects(loose.applyAsync([1, 2], { link: 't.add' }), { name: 'InvalidArgumentError', message: 't.add: options.link must be a signature (task.s(...), chain, group, chord) or its data, got string "t.add": make it a signature, signature("t.add")' })
  await t.rejects(loose.applyAsync([1, 2], { linkError: 42 }), { message: /options\.linkError must be a signature .*got number$/ })
  await t.rejects(loose.applyAsync([1, 2], { serializer: 'yaml' }), new SerializationError('unknown serializer "yaml" (celeriac\'s serializers: msgpack, json)'))
  await t.rejects(loose.applyAsync([1, 2], { headers: { f: () => 1 } }), new SerializationError('t.add headers.f is a function and cannot be serialized'))
  t.equal(await (await add.applyAsync([1, 2], { countdown: 0, headers: { trace: 'x' } })).get({ timeout: 5 }), 3, 'good options still send')
  // Typos that were ignored: a get() that waited for ever, a worker with the default threads.
  const sent = await add.delay(1, 1)
  await t.rejects(sent.get({ timout: 1 } as never), new InvalidArgumentError('get: unknown option timout (did you mean timeout?)'))
  await t.rejects(group([add.s(1, 1)]).applyAsync().then((g) => g.get({ timout: 1 } as never)), { message: 'get: unknown option timout (did you mean timeout?)' })
  t.throws(() => app.worker({ concurency: 2 } as never), new InvalidArgumentError('unknown worker option concurency (did you mean concurrency?)'))
  await t.rejects(app.control.revoke(5 as never), new InvalidArgumentError('revoke: give a task id or an array of them, got 5'))
  t.same(await app.control.revoke([]), {}, 'an empty list revokes nothing')
  t.equal(await sent.get({ timeout: 5 }), 2)
})

t.test('calling - option values every worker would dead-letter are refused at send, where get() would have waited for ever', async (t) => {
  const transport = await app.transport()
  const deadBefore = (await transport.deadLetters('celery')).length
  const loose = add as unknown as { applyAsync(args: unknown[], options: unknown): Promise<unknown> }
  await t.rejects(add.applyAsync([1, 2], { expires: new Date('9999-12-31') }), new InvalidArgumentError('expires must fall between 1970 and the year 2200, got 9999-12-31T00:00:00.000Z'))
  await t.rejects(add.applyAsync([1, 2], { eta: new Date('1960-01-01') }), { message: 'eta must fall between 1970 and the year 2200, got 1960-01-01T00:00:00.000Z' })
  await t.rejects(add.applyAsync([1, 2], { countdown: 1e10 }), { message: /^countdown must fall between 1970 and the year 2200, got 2\d\d\d-/ })
  await t.rejects(add.applyAsync([1, 2], { expires: 1e10 }), { message: /^expires must fall between 1970 and the year 2200/ })
  await t.rejects(add.applyAsync([1, 2], { timeLimit: '30d' }), { message: 'timeLimit of a call must be at most 2147483.647 s (24.8 days), got 2592000 s; a task\'s own timeLimit option has no such bound' })
  await t.rejects(add.applyAsync([1, 2], { softTimeLimit: '30d' }), { message: /^softTimeLimit of a call must be at most/ })
  await t.rejects(add.applyAsync([1, 2], { groupId: '' }), new InvalidArgumentError('t.add: options.groupId must be a non-empty string of at most 256 characters, got ""'))
  await t.rejects(loose.applyAsync([1, 2], { ignoreResult: 'yes' }), { name: 'InvalidArgumentError', message: 't.add: options.ignoreResult must be a boolean, got "yes"' })
  await t.rejects(loose.applyAsync([1, 2], { headers: 'x' }), { message: 't.add: options.headers must be an object, got "x"' })
  await t.rejects(loose.applyAsync([1, 2], { parentId: 5 }), { message: /^t\.add: options\.parentId must be a non-empty string/ })
  await t.rejects(loose.applyAsync([1, 2], { rootId: 5 }), { message: /^t\.add: options\.rootId must be a string/ })
  await t.rejects(loose.applyAsync([1, 2], { kwargs: 5 }), { message: 't.add: options.kwargs must be an object of keyword arguments, got 5' })
  // A later task behind them in the queue: once it is done, anything sent before it was seen.
  t.equal(await (await add.delay(1, 2)).get({ timeout: 5 }), 3)
  t.equal((await transport.deadLetters('celery')).length, deadBefore, 'nothing reached a worker to be dead-lettered')
})

t.test('calling - durations past a Node timer (24.8 days) wait that long: they used to fire at once', async (t) => {
  const warnings: string[] = []
  const onWarning = (warning: Error) => warnings.push(warning.name)
  process.on('warning', onWarning)
  t.teardown(() => void process.off('warning', onWarning))
  // A task's own hard limit of 30 days: the 50 ms task used to fail with TimeLimitExceeded.
  t.equal(await (await patient.delay(50)).get({ timeout: '30d' }), 50, 'neither the limit nor the get timeout fired early')
  // A month's countdown on memory:// used to spin its queue's timer.
  const later = await add.applyAsync([1, 1], { countdown: '30d' })
  t.equal(await later.state(), TaskState.PENDING)
  await t.rejects(later.get({ timeout: 0.2 }), { name: 'TimeoutError' }, 'not run early')
  await later.revoke()
  t.same(warnings.filter((name) => name === 'TimeoutOverflowWarning'), [])
})

t.test('results - a task error keeps its class name, code, data and remote stack', async (t) => {
  const result = await decline.delay(120)
  const error = (await result.get({ timeout: 5, propagate: false })) as unknown as RemoteError
  t.type(error, RemoteError)
  t.equal(error.name, 'PaymentDeclined')
  t.equal(error.code, 'E_DECLINED')
  t.equal(error.message, 'payment of 120 declined: insufficient funds')
  t.same(error.data, { amount: 120, reason: 'insufficient funds' })
  t.match(error.stack, /fixtures\/app\.ts/)
  await t.rejects(result.get({ timeout: 5 }), { name: 'PaymentDeclined', code: 'E_DECLINED' })
  t.equal(await result.state(), TaskState.FAILURE)
  t.match(await result.traceback(), /PaymentDeclined: payment of 120 declined/)
})

t.test('results - a result that cannot be serialized fails the task clearly', async (t) => {
  const result = await badResult.delay()
  await t.rejects(result.get({ timeout: 5 }), { name: 'SerializationError', message: 'result of t.badResult is a function and cannot be serialized' })
})

t.test('results - an unknown id is PENDING; get times out; forget removes a result', async (t) => {
  const unknown = app.asyncResult('no-such-task')
  t.equal(await unknown.state(), TaskState.PENDING)
  t.equal(await unknown.ready(), false)
  await t.rejects(unknown.get({ timeout: '50ms' }), new TimeoutError('result of task no-such-task not ready after 0.05s'))
  const result = await add.delay(1, 1)
  await result.get({ timeout: 5 })
  await result.forget()
  t.equal(await result.state(), TaskState.PENDING)
})

t.test('actors - a class task is built once per thread and keeps its state', async (t) => {
  const runs = await Promise.all(Array.from({ length: 24 }, async () => (await counter.delay()).get({ timeout: 5 })))
  const threads = new Set(runs.map((r) => r.threadId))
  t.equal(threads.size, 2, 'both threads served')
  t.ok(runs.every((r) => r.builds === 1), 'one instance per thread')
  for (const thread of threads) {
    const calls = runs.filter((r) => r.threadId === thread).map((r) => r.calls).sort((a, b) => a - b)
    t.same(calls, Array.from({ length: calls.length }, (_, i) => calls[0] + i), `thread ${thread} counted its own calls`)
  }
  const threadIds = new Set(await Promise.all(Array.from({ length: 8 }, async () => (await whoami.delay()).get({ timeout: 5 }))))
  t.ok([...threadIds].every((id) => threads.has(id)), 'function tasks run on the same threads')
})

t.test('link - a callback gets the result prepended; a signature made with si does not', async (t) => {
  const parent = await add.applyAsync([2, 2], { link: [linked.s('tail'), linked.si('alone')] })
  t.equal(await parent.get({ timeout: 5 }), 4)
  const record = await (await app.backend()).get(parent.id)
  t.equal(record?.children?.length, 2)
  const [first, second] = await Promise.all(record!.children!.map((id) => app.asyncResult(id).get({ timeout: 5 })))
  t.same(first, { args: [4, 'tail'], parentId: parent.id })
  t.same(second, { args: ['alone'], parentId: parent.id })
})

t.test('link - linkError gets the request, the error and the traceback', async (t) => {
  const failing = await decline.applyAsync([5], { linkError: linked.s() })
  await t.rejects(failing.get({ timeout: 5 }))
  const record = await (await app.backend()).get(failing.id)
  t.equal(record?.state, TaskState.FAILURE)
  const events = app.events.subscribe('task-succeeded')
  await events.ready
  // The errback was sent after the failure was stored; wait for its result by its parent id.
  for await (const event of events) {
    if (!('uuid' in event)) continue
    const result = (await app.asyncResult(event.uuid).get({ timeout: 5 })) as { args: [{ id: string }, Error & { code: string }, string]; parentId: string }
    if (result.parentId !== failing.id) continue
    t.equal(result.args[0].id, failing.id)
    // An Error, rebuilt as get() rebuilds it (issue 18), not the wire form.
    t.type(result.args[1], Error)
    t.equal(result.args[1].name, 'PaymentDeclined')
    t.equal(result.args[1].code, 'E_DECLINED')
    t.match(result.args[2], /PaymentDeclined/)
    break
  }
})

t.test('bad input - an unregistered task name fails clearly and the node keeps serving', async (t) => {
  const result = await app.sendTask('t.nope', [1])
  const error = await result.get({ timeout: 5, propagate: false })
  t.type(error, NotRegistered)
  t.match((error as Error).message, /task t\.nope is not registered on calling@/)
  const transport = await app.transport()
  t.ok((await transport.deadLetters('celery')).some((dl) => dl.reason === 'unregistered task t.nope'))
  t.equal(await (await add.delay(3, 4)).get({ timeout: 5 }), 7)
})

t.test('bad input - garbage bytes and malformed headers in a queue are dead-lettered with the reason', async (t) => {
  const transport = await app.transport()
  await transport.publish({ exchange: '', routingKey: 'celery', body: new Uint8Array([0xc1, 0xff, 0x00, 0x13]) })
  await transport.publish({ exchange: '', routingKey: 'celery', body: encodeMessage({ headers: { id: '', task: 't.add' } as never, body: new Uint8Array() }) })
  t.equal(await (await add.delay(5, 5)).get({ timeout: 5 }), 10, 'the node keeps serving')
  const reasons = (await transport.deadLetters('celery')).map((dl) => dl.reason)
  t.ok(reasons.includes('undecodable: undecodable task message: 4 bytes is too short for a frame'), 'garbage bytes')
  t.ok(reasons.includes('invalid message: headers.id must be a non-empty string of at most 256 characters, got ""'), 'malformed headers')
})

t.test('events - task events stream with Celery fields', async (t) => {
  const stream = app.events.subscribe('task-*')
  await stream.ready
  const result = await add.delay(8, 8)
  const seen: string[] = []
  for await (const event of stream) {
    if (!('uuid' in event) || event.uuid !== result.id) continue
    seen.push(event.type)
    if (event.type === 'task-received') t.equal(event.name, 't.add')
    if (event.type === 'task-succeeded') {
      t.type(event.runtime, 'number')
      t.equal(event.hostname, node.hostname)
      break
    }
  }
  t.same(seen, ['task-received', 'task-started', 'task-succeeded'])
})

t.test('events - a pattern no event matches is refused, naming the nearest; a stream is typed by its pattern', async (t) => {
  t.throws(() => app.events.subscribe('tsk-*'), new InvalidArgumentError('no event matches tsk-* (did you mean task-*?); the events are task-sent, task-received, task-started, task-succeeded, task-failed, task-retried, task-revoked, task-rejected, worker-online, worker-heartbeat, worker-offline; a * stands for either part (task-*, *-failed) or for all (*)'))
  const stream = app.events.subscribe('task-succeeded')
  await stream.ready
  const sent = await add.delay(20, 22)
  for await (const event of stream) {
    // Typed as a task-succeeded event: its result needs no narrowing.
    if (event.uuid !== sent.id) continue
    t.equal(event.result, '42')
    break
  }
})

t.test('events - worker heartbeats', async (t) => {
  const latch = new Latch(1, 5000)
  const stream = app.events.subscribe('worker-heartbeat')
  void (async () => {
    for await (const event of stream) if (event.hostname === node.hostname) return latch.unlock()
  })()
  await latch.promise
  stream.close()
  t.pass('heartbeat seen')
})
