// Issue 18, "Arguments and types that tell the truth" and the Celery behaviours, as a user meets
// them on memory://: kwargs bind by parameter name in the worker and in call(); a call the task
// cannot take fails (FAILURE, InvalidArgumentError, no retry); what cannot cross the wire is
// refused at send time; retries that run out re-raise the original error; errbacks get Errors.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { tempDir } from '../helpers/files.js'
import { chain, createApp, InvalidArgumentError, MaxRetriesExceeded, SerializationError, signature, TaskState, type AsyncResult } from '../../src/index.js'
import * as fx from '../fixtures/arguments-app.js'

const T = { timeout: 10 }
const node = fx.app.worker({ concurrency: 2, hostname: 'arguments-binding@%h' })
// Knows the tasks by name only (Celery's send_task): nothing is checked before the worker.
const client = createApp({ name: 'arguments-binding-client', broker: 'memory://argsfix', backend: 'memory://argsfix' })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await client.close()
  await fx.app.close()
})

/** The error a task ended with, its state and its retries, as a user reads them. */
async function failure(result: AsyncResult) {
  const error = await result.get({ ...T, propagate: false })
  const meta = await (await client.backend()).get(result.id)
  return { error, state: await result.state(), retries: meta?.retries }
}

t.test('kwargs - bound by parameter name in the worker, as celeriac call add -k \'{"x":1,"y":2}\' sends them', async (t) => {
  t.equal(await (await client.sendTask('a.add', [], { kwargs: { x: 1, y: 2 } })).get(T), 3, 'by name only')
  t.equal(await (await client.sendTask('a.add', [10], { kwargs: { y: 2 } })).get(T), 12, 'args then kwargs')
  t.equal(await (await fx.add.applyAsync([] as never, { kwargs: { y: 5, x: 1 } })).get(T), 6, 'applyAsync with kwargs, any order')
  t.equal(await (await signature('a.add', { kwargs: { x: 1, y: 2 } }).delay()).get(T), 3, "signature('a.add', { kwargs })")
  t.equal(await (await fx.app.signature('a.greet', { args: ['Ada'], kwargs: { punctuation: '?' } }).delay()).get(T), 'hello, Ada?', 'a parameter left out takes its default')
  t.equal(await (await client.sendTask('a.area', [], { kwargs: { box: { w: 2, h: 3 }, scale: 10 } })).get(T), 60, 'destructured parameters bind through the params option')
  t.equal(await (await client.sendTask('a.bound', [], { kwargs: { y: 1, x: 5 } })).get(T), '0: 4', 'a bound task: the context is not a parameter')
  t.equal(await (await client.sendTask('a.mul', [], { kwargs: { x: 6, y: 7 } })).get(T), 42, "a class task's run parameters")
  t.same(await (await client.sendTask('a.withOptions', [1], { kwargs: { verbose: true } })).get(T), { x: 1, verbose: true }, 'keys that name no parameter: one trailing object')
})

t.test('kwargs - the same binding in eager call(), through the one task runner', async (t) => {
  t.equal(await fx.app.signature<number>('a.add', { kwargs: { x: 1, y: 2 } }).call(), 3)
  t.equal(await fx.app.signature<string>('a.greet', { kwargs: { name: 'Bo', greeting: 'hi' } }).call(), 'hi, Bo!')
  await t.rejects(fx.app.signature('a.add', { args: [1], kwargs: { x: 2 } }).call(), new InvalidArgumentError("a.add got multiple values for argument 'x'"))
})

t.test('kwargs - a call the task cannot take ends FAILURE with InvalidArgumentError naming the parameter, never retried', async (t) => {
  const cases: [string, unknown[], Record<string, unknown>, string][] = [
    ['a.eager', [1], { x: 2 }, "a.eager got multiple values for argument 'x'"],
    ['a.eager', [1, 2], { z: 3 }, "a.eager got an unexpected keyword argument 'z'"],
    ['a.eager', [], { x: 1 }, "a.eager missing required argument 'y'"],
    ['a.eager', [1, 2, 3], {}, 'a.eager takes 2 arguments, got 3'],
  ]
  for (const [task, args, kwargs, message] of cases) {
    const { error, state, retries } = await failure(await client.sendTask(task, args, { kwargs }))
    t.same([error, state, retries], [new InvalidArgumentError(message), TaskState.FAILURE, 0], message)
    t.type(error, InvalidArgumentError)
  }
  // Names that cannot be read (destructured, no params option): kwargs are one trailing object.
  t.equal(await (await client.sendTask('a.undeclared', [], { kwargs: { w: 2, h: 3 } })).get(T), 6, 'the object fills the destructured parameter')
  const extra = await failure(await client.sendTask('a.undeclared', [{ w: 1, h: 1 }], { kwargs: { w: 2 } }))
  t.same(extra.error, new InvalidArgumentError('a.undeclared takes 1 argument, got 2 (kwargs count as one trailing argument)'))
  // The sender that knows the task refuses the same calls before sending.
  await t.rejects(fx.add.applyAsync([1] as never, { kwargs: { x: 2 } }), new InvalidArgumentError("a.add got multiple values for argument 'x'"))
  await t.rejects(fx.add.applyAsync([] as never, { kwargs: { x: 2 } }), new InvalidArgumentError("a.add missing required argument 'y'"))
})

t.test('wire - what round-trips through a task arrives as itself', async (t) => {
  const value = {
    at: new Date(Date.UTC(2026, 11, 6)), big: 2n ** 62n, bytes: new Uint8Array([1, 2, 255]), floats: new Float64Array([1.5]),
    tags: new Set(['a', 'b']), pattern: /ab+c/gi, nested: [{ deep: [null, true, 'x'] }], missing: undefined,
  }
  const back = (await (await fx.echo.delay(value)).get(T)) as typeof value
  t.strictSame(back, value)
  t.ok(back.at instanceof Date && back.tags instanceof Set && back.pattern instanceof RegExp && back.bytes instanceof Uint8Array)
  const error = (await (await fx.echo.delay(Object.assign(new Error('inside'), { code: 'E_IN' }))).get(T)) as Error & { code: string }
  t.ok(error instanceof Error, 'an Error arrives as an Error')
  t.same([error.message, error.code], ['inside', 'E_IN'])
  t.same(await (await fx.echo.delay(new Map([['k', 1]]) as unknown)).get(T), { k: 1 }, 'a Map arrives as a plain object (documented; the types refuse it)')
  t.same(await (await fx.echo.delay(signature('a.add', { args: [1, 2] }))).get(T), signature('a.add', { args: [1, 2] }).toJSON(), 'a class with toJSON() sends that')
})

t.test('wire - an unserializable argument is refused at send time, naming its path', async (t) => {
  const circular: Record<string, unknown> = {}
  circular.self = circular
  const refusals: [unknown[], string][] = [
    [[{ client: new fx.Client() }], 'a.echo args[0].client is an instance of Client and cannot be serialized: it would arrive as a plain object without its class and methods (send plain data, or give Client a toJSON())'],
    [[() => 1], 'a.echo args[0] is a function and cannot be serialized'],
    [[{ key: Symbol('k') }], 'a.echo args[0].key is a symbol and cannot be serialized'],
    [[circular], 'a.echo args[0].self is a circular reference and cannot be serialized'],
    [[[1, new (class Point { x = 1 })()]], 'a.echo args[0][1] is an instance of Point and cannot be serialized: it would arrive as a plain object without its class and methods (send plain data, or give Point a toJSON())'],
  ]
  for (const [args, message] of refusals) await t.rejects(client.sendTask('a.echo', args), new SerializationError(message), message)
  await t.rejects(client.sendTask('a.echo', [1], { kwargs: { client: new fx.Client() } }), { name: 'SerializationError', message: /^a\.echo kwargs\.client is an instance of Client/ })
})

t.test('wire - a result that cannot cross the wire fails the task instead of storing a corrupted value', async (t) => {
  const { error, state } = await failure(await fx.classResult.delay())
  t.equal(state, TaskState.FAILURE)
  t.same(error, new SerializationError('result of a.classResult.client is an instance of Client and cannot be serialized: it would arrive as a plain object without its class and methods (send plain data, or give Client a toJSON())'))
})

t.test('retries - when they run out, autoretryFor and ctx.retry({ exc }) fail with the original error', async (t) => {
  const auto = await failure(await fx.flaky.delay())
  t.same([auto.state, auto.retries], [TaskState.FAILURE, 1])
  t.match(auto.error, { name: 'TransientError', message: 'flaky on try 2' }, 'its class name and message, not MaxRetriesExceeded')
  t.notOk(auto.error instanceof MaxRetriesExceeded)
  const manual = await failure(await fx.hopeless.delay())
  t.equal((manual.error as Error).name, 'TransientError')
  t.equal((manual.error as Error).message, 'still broken after 1')
  await t.rejects((await fx.hopeless.delay()).get(T), { name: 'TransientError', message: 'still broken after 1' }, 'get() raises it')
})

t.test('errbacks - linkError receives (request, Error, traceback): an Error with the original name, message and code', async (t) => {
  const errbackId = `args-errback-${Date.now()}`
  const result = await fx.fail.applyAsync(['no luck'], { linkError: fx.onError.s().set({ taskId: errbackId }) })
  await t.rejects(result.get(T), { name: 'TransientError', message: 'no luck' })
  t.same(await fx.app.asyncResult(errbackId).get(T), { id: result.id, isError: true, name: 'TransientError', message: 'no luck', code: 'E_TRANSIENT', traceback: true })
})

t.test('conveniences - clone, get({ followParents }), info()', async (t) => {
  const partial = fx.add.s(2)
  const cloned = partial.clone({ args: [40], options: { priority: 5 } })
  t.same([cloned.args, cloned.options], [[40, 2], { priority: 5 }], 'args prepended, as Celery')
  t.equal(await (await cloned.delay()).get(T), 42)
  t.same(fx.greet.signature(['A'], { greeting: 'yo' }).clone({ kwargs: { greeting: 'hey', punctuation: '.' } }).kwargs, { greeting: 'hey', punctuation: '.' }, 'kwargs merged, new values win')
  t.same(fx.add.si(1, 1).clone({ args: [9], kwargs: { x: 1 } }).args, [1, 1], 'an immutable signature keeps its args')
  t.same(partial.args, [2], 'the original is unchanged')

  const failing = (await chain(fx.fail.si('first step'), fx.echo.s()).applyAsync()) as AsyncResult
  await t.rejects(failing.get({ ...T, followParents: true }), { name: 'TransientError', message: 'first step' })
  // A step whose own record never comes: only its parent's failure can end the wait.
  const orphan = fx.app.asyncResult(`never-sent-${Date.now()}`)
  orphan.parent = failing.parent
  await t.rejects(orphan.get({ timeout: 0.3 }), { name: 'TimeoutError' }, 'without followParents: waits for its own record')
  await t.rejects(orphan.get({ ...T, followParents: true }), { name: 'TransientError', message: 'first step' }, "with it: the parent's failure")

  const file = `${tempDir(t)}/release`
  const running = await fx.waitFor.delay(file)
  for await (const change of running.changes()) if (change.state === TaskState.STARTED) break
  t.same(await running.info(), { hostname: `arguments-binding@${hostname()}`, pid: process.pid }, 'STARTED: the hostname and pid of the worker running it')
  writeFileSync(file, '')
  t.equal(await running.get(T), 'released')
  t.equal(await running.info(), 'released', 'SUCCESS: the result')
})
