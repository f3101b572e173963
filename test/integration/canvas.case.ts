// The canvas suite: the seeds' examples and Celery's failure rules, run on memory:// and on
// NATS by canvas-memory.test.ts and canvas-nats.test.ts with a worker node already started.
// It imports no fixture itself: the NATS runner sets the fixture's broker before importing it.
import { chain, chord, createApp, group, signature, AsyncResult, ChordError, GroupResult, Signature } from '../../src/index.js'
import { msgpackCodec, jsonCodec } from '../../src/serialization/codec.js'
import { lines, tempDir } from '../helpers/files.js'
import type * as Fixture from '../fixtures/canvas-app.js'
import type { Test } from 'tap'

const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const T = { timeout: 20 }

/** `fx` is the fixture module, imported by the runner once its environment is set. */
export function canvasCases(t: Test, fx: typeof Fixture): void {
  const { add, mul, xsum, fail, upper, onError, lineage, passthrough, tally, count } = fx

  t.test('signatures are plain data that survive msgpack and JSON', async (t) => {
    const sig = add.s(2).set({ queue: 'hipri', countdown: 1, link: mul.s(3) })
    const data = sig.toJSON()
    t.same(data, { task: 'c.add', args: [2], kwargs: {}, options: { queue: 'hipri', countdown: 1, link: [{ task: 'c.mul', args: [3], kwargs: {}, options: {}, immutable: false }] }, immutable: false })
    t.same(msgpackCodec.decode(msgpackCodec.encode(data)), data, 'msgpack round trip')
    t.same(jsonCodec.decode(jsonCodec.encode(data)), data, 'JSON round trip')
    const flow = chord([add.s(1, 1), chain(add.s(2, 2), mul.s(3))], xsum.s())
    t.same(signature(msgpackCodec.decode(msgpackCodec.encode(flow.toJSON())) as never).toJSON(), flow.toJSON(), 'a chord rebuilt from its data is the same chord')
    t.same(add.signature([2, 2], { unused: true }, { priority: 3 }).toJSON(), { task: 'c.add', args: [2, 2], kwargs: { unused: true }, options: { priority: 3 }, immutable: false })
    t.same(signature('c.add', { args: [1, 2], options: { countdown: 10 } }).toJSON(), { task: 'c.add', args: [1, 2], kwargs: {}, options: { countdown: 10 }, immutable: false })
  })

  t.test('set and clone return new signatures: the original never changes', async (t) => {
    const base = add.s(2)
    const routed = base.set({ queue: 'x' })
    const copy = routed.clone()
    t.same(base.options, {}, 'set left the original alone')
    t.same(routed.options, { queue: 'x' })
    t.not(copy, routed)
    t.same(copy.toJSON(), routed.toJSON())
    t.equal(add.si(1, 2).immutable, true)
    t.equal(add.s(1, 2).immutable, false)
  })

  t.test('a signature is sent with delay/applyAsync, or called here without a message', async (t) => {
    t.equal(await (await add.s(2, 2).delay()).get(T), 4)
    t.equal(await add.s(2, 2).call(), 4, 'direct call')
    t.equal(await (await add.s(2).delay(4)).get(T), 6, 'partial: the call-time argument comes first')
    t.equal(await (await lineage.s().applyAsync(['x'], { countdown: 0.01 })).get(T).then((r) => r.value), 'x')
    t.equal(await (await signature<number>('c.mul', { args: [6, 7] }).delay()).get(T), 42, 'by name, without importing the task')
    t.equal(await chain(add.s(1, 2), mul.s(10)).call(), 30, 'a chain called here runs each step here')
    t.same(await group([add.s(1, 1), add.s(2, 2)]).call(), [2, 4])
    t.equal(await chord([add.s(1, 1), add.s(2, 2)], xsum.s()).call(), 6)
  })

  t.test('call() and signature(data).applyAsync() run the same plan: the same results, the same errors', async (t) => {
    const canvases = [
      chain(add.s(1, 2), mul.s(10)),
      chord([add.s(1, 1), chain(add.s(2, 2), mul.s(3))], xsum.s()),
      chain(add.s(1, 1), group([mul.s(2), mul.s(3)]), xsum.s()),
      chord([group([add.s(1, 1), add.s(2, 2)]), add.s(3, 3)], passthrough.s()),
      chain(add.s(1, 1), chord([add.s(1), add.s(2)], xsum.s()), mul.s(10)),
    ]
    for (const canvas of canvases) {
      const data = msgpackCodec.decode(msgpackCodec.encode(canvas.toJSON())) as never
      const sent = await (await signature(data).applyAsync()).get(T)
      t.same(await canvas.call(), sent, `called here: ${JSON.stringify(sent)}`)
      t.same(await signature(data).call(), sent, 'rebuilt from data and called here')
    }
    const failing = chord([add.s(1, 1), fail.s('member broke')], xsum.s())
    const sentError = await (await failing.applyAsync()).get(T).catch((e: unknown) => e)
    const calledError = await failing.call().catch((e: unknown) => e)
    t.ok(sentError instanceof ChordError && calledError instanceof ChordError, 'a failed member fails the chord with a ChordError either way')
    for (const error of [sentError, calledError]) t.match((error as ChordError).message, /^Dependency \S+ raised Declined: member broke$/)
    await t.rejects(chain(add.s(1, 1), fail.si('step 2 broke'), mul.s(2)).call(), { name: 'Declined', message: 'step 2 broke' })
    await t.rejects(group([add.s(1, 1), fail.s('second'), fail.s('third')]).call(), { name: 'Declined', message: 'second' })
  })

  t.test('a signature can be an argument of a task and be sent from what comes back', async (t) => {
    const data = await (await passthrough.delay(mul.s(5, 5).toJSON())).get(T)
    const rebuilt = signature(data as never)
    t.ok(rebuilt instanceof Signature)
    t.equal(await (await rebuilt.applyAsync()).get(T), 25)
    const chainData = await (await passthrough.delay(chain(add.s(1, 1), mul.s(3)))).get(T)
    t.equal(await (await signature(chainData as never).applyAsync()).get(T), 6, 'a chain passed as itself arrives as data too')
  })

  t.test('chain(add(4, 4), mul(8)) = 64', async (t) => {
    const result = await chain(add.s(4, 4), mul.s(8)).applyAsync()
    t.equal(await result.get(T), 64)
  })

  t.test('add.si(2,2) | add.si(4,4) | add.si(8,8) = 16, with parent results 8 and 4', async (t) => {
    const result = await add.si(2, 2).pipe(add.si(4, 4)).pipe(add.si(8, 8)).applyAsync()
    t.equal(await result.get(T), 16)
    const parent = result.parent as AsyncResult<number>
    t.equal(await parent.get(T), 8)
    t.equal(await (parent.parent as AsyncResult<number>).get(T), 4)
    t.equal((parent.parent as AsyncResult).parent, undefined, 'the first step has no parent')
  })

  t.test('multiply chains: 8000, partial 320, nested 6400', async (t) => {
    t.equal(await (await chain(mul.s(10, 10), mul.s(4), mul.s(20)).applyAsync()).get(T), 8000)
    t.equal(await (await mul.s(10).pipe(mul.s(2)).delay(16)).get(T), 320)
    const nested = mul.s(10).pipe(mul.s(2)).pipe(mul.s(4).pipe(mul.s(5)))
    t.equal(await (await nested.delay(16)).get(T), 6400)
  })

  t.test('group of add(i, i) for i < 10 = [0, 2, ..., 18]; a partial group g(10) = [10, ..., 19]', async (t) => {
    const result = await group(range(10).map((i) => add.s(i, i))).applyAsync()
    t.ok(result instanceof GroupResult)
    t.same(await result.get(T), range(10).map((i) => i + i))
    t.equal(await result.completedCount(), 10)
    t.equal(await result.ready(), true)
    t.equal(await result.successful(), true)
    t.equal(await result.failed(), false)
    t.same(await result.join(T), await result.get(T))
    const partial = group(range(10).map((i) => add.s(i)))
    t.same(await (await partial.delay(10)).get(T), range(10).map((i) => 10 + i))
  })

  t.test('chord of add(i, i) with xsum = 90; a group piped into a task is a chord', async (t) => {
    const result = await chord(range(10).map((i) => add.s(i, i)), xsum.s()).applyAsync()
    t.equal(await result.get(T), 90)
    t.ok(result.parent instanceof GroupResult, "the body's parent is the header's group result")
    t.same(await (result.parent as GroupResult).get(T), range(10).map((i) => 2 * i))
    const piped = await group(range(10).map((i) => add.s(i, i))).pipe(xsum.s()).applyAsync()
    t.equal(await piped.get(T), 90)
  })

  t.test('a chord whose header is empty still calls its body, with an empty list', async (t) => {
    t.equal(await (await chord([], count.s()).applyAsync()).get(T), 0)
  })

  t.test('a chord of 1,000 members completes with exactly one body call', async (t) => {
    const file = `${tempDir(t)}/body`
    const result = await chord(range(1000).map((i) => add.s(i, i)), tally.s(file)).applyAsync()
    t.equal(await result.get({ timeout: 60 }), 999_000)
    t.same(lines(file), ['1000'], 'the body ran once, with all 1,000 results')
  })

  t.test('link=mul.s(16) on add(2, 2): get() returns 4, the child result is 64', async (t) => {
    const result = await add.applyAsync([2, 2], { link: mul.s(16) })
    t.equal(await result.get(T), 4)
    const [child] = await result.children()
    t.equal(await child.get(T), 64)
    const graph = await result.graph()
    t.same(graph, { id: result.id, state: 'SUCCESS', children: [{ id: child.id, state: 'SUCCESS', children: [] }] })
  })

  t.test('link and linkError take lists, called in order', async (t) => {
    const [a, b] = ['link-a', 'link-b'].map((id) => `${id}-${Date.now()}`)
    const result = await add.applyAsync([1, 1], { link: [mul.s(2).set({ taskId: a }), add.s(3).set({ taskId: b })] })
    t.equal(await result.get(T), 2)
    t.same((await result.children()).map((c) => c.id), [a, b], 'children in the order given')
    const [first, second] = await result.children()
    t.equal(await first.get(T), 4)
    t.equal(await second.get(T), 5)
  })

  t.test('an errback receives the request, the error and the traceback', async (t) => {
    const errbackId = `errback-${Date.now()}`
    const result = await fail.applyAsync(['no funds'], { linkError: [onError.s().set({ taskId: errbackId })] })
    await t.rejects(result.get(T), { name: 'Declined', message: 'no funds' })
    const seen = await fx.app.asyncResult<Record<string, unknown>>(errbackId).get(T)
    t.same(seen, { id: result.id, task: 'c.fail', type: 'Declined', message: 'no funds', traceback: true, isError: true })
  })

  t.test('a failed step fails the rest of its chain with the same error', async (t) => {
    const result = (await chain(add.s(1, 1), fail.si('step 2 broke'), mul.s(2), mul.s(3)).applyAsync()) as AsyncResult<number>
    await t.rejects(result.get(T), { name: 'Declined', message: 'step 2 broke' }, "the chain's result raises the failing step's error")
    t.equal(await result.state(), 'FAILURE')
    const middle = result.parent as AsyncResult
    t.equal(await middle.state(), 'FAILURE', 'so does every step after it')
    t.equal(await (middle.parent as AsyncResult).state(), 'FAILURE')
    t.equal(await ((middle.parent as AsyncResult).parent as AsyncResult).get(T), 2, 'the steps before it keep their results')
  })

  // Signatures by name, as JSON or plain JavaScript make them: the typed `add.s(1, 1)` after a
  // step would not compile. Celery fails such a step too; the worker must go on.
  const addByName = () => signature<number>('c.add', { args: [1, 1] })

  t.test('a step that cannot take the result before it fails the rest of its chain, and the worker goes on', async (t) => {
    const result = (await chain(add.s(1, 1), addByName(), mul.s(3)).applyAsync()) as AsyncResult<number>
    await t.rejects(result.get(T), { name: 'InvalidArgumentError', message: 'c.add takes 2 arguments, got 3' })
    const unsent = result.parent as AsyncResult
    t.equal(await unsent.state(), 'FAILURE', 'the step that could not be sent')
    t.equal(await (unsent.parent as AsyncResult).get(T), 2, 'the step before it keeps its result')
    t.equal(await (await add.delay(2, 3)).get(T), 5, 'the worker still runs tasks')
  })

  t.test('a chord body that cannot take the list of results fails the chord', async (t) => {
    const result = await chord([add.s(1, 1), add.s(2, 2)], addByName()).applyAsync()
    await t.rejects(result.get(T), { name: 'InvalidArgumentError', message: 'c.add takes 2 arguments, got 3' })
    t.same(await (result.parent as GroupResult).get(T), [2, 4], 'the members keep their results')
  })

  t.test('a link callback that cannot take the result fails, where its task lists it as a child', async (t) => {
    const result = await add.applyAsync([2, 2], { link: addByName() })
    t.equal(await result.get(T), 4)
    const [child] = await result.children()
    await t.rejects(child.get(T), { name: 'InvalidArgumentError', message: 'c.add takes 2 arguments, got 3' })
  })

  t.test('a failed member fails the group: get raises the first failure in member order', async (t) => {
    const result = await group([add.s(1, 1), fail.s('second'), fail.s('third')]).applyAsync()
    await t.rejects(result.get(T), { name: 'Declined', message: 'second' })
    const values = await result.get({ ...T, propagate: false })
    t.equal(values[0], 2)
    t.match(values[1], { name: 'Declined', message: 'second' })
    t.equal(await result.completedCount(), 1)
    t.equal(await result.failed(), true)
    t.equal(await result.successful(), false)
  })

  t.test('a failed member fails the chord with a ChordError naming it, and calls the body errback', async (t) => {
    const errbackId = `chord-errback-${Date.now()}`
    const members = [add.s(1, 1), fail.s('member broke'), add.s(3, 3)]
    const result = await chord(members, xsum.s().set({ linkError: onError.s().set({ taskId: errbackId }) })).applyAsync()
    const error = await result.get(T).catch((e: unknown) => e)
    t.ok(error instanceof ChordError, 'ChordError')
    const failed = (result.parent as GroupResult).results[1] as AsyncResult
    t.match((error as ChordError).message, `Dependency ${failed.id} raised Declined: member broke`)
    t.match((error as ChordError).data, { member: failed.id, index: 1 })
    t.match(await fx.app.asyncResult(errbackId).get(T), { id: result.id, type: 'ChordError', isError: true })
  })

  t.test('nested: groups of chains, chains through chords, chords of groups', async (t) => {
    const groupOfChains = await group([chain(add.s(1, 1), mul.s(10)), chain(add.s(2, 2), mul.s(10))]).applyAsync()
    t.same(await groupOfChains.get(T), [20, 40])
    const throughChord = await chain(add.s(1, 1), chord([add.s(1), add.s(2)], xsum.s()), mul.s(10)).applyAsync()
    t.equal(await throughChord.get(T), 70, '2 -> [3, 4] -> 7 -> 70')
    const chordOfGroups = await chord([group([add.s(1, 1), add.s(2, 2)]), chain(add.s(3, 3), mul.s(2))], passthrough.s()).applyAsync()
    t.same(await chordOfGroups.get(T), [[2, 4], 12])
    const endsInGroup = await chain(add.s(1, 1), group([mul.s(2), mul.s(3)])).applyAsync()
    t.ok(endsInGroup instanceof GroupResult)
    t.same(await endsInGroup.get(T), [4, 6], "a chain ending in a group gives the group's result, each member given the parent's")
    const chordOfChords = await chord([chord([add.s(1, 1), add.s(2, 2)], xsum.s()), add.s(10, 10)], xsum.s()).applyAsync()
    t.equal(await chordOfChords.get(T), 26)
  })

  t.test('map, starmap and chunks run a task over a list inside one worker task', async (t) => {
    t.same(await (await upper.map(['a', 'b', 'c']).applyAsync()).get(T), ['A', 'B', 'C'])
    t.same(await (await add.starmap([[1, 2], [3, 4]]).applyAsync()).get(T), [3, 7])
    const chunks = add.chunks(range(10).map((i) => [i, i] as [number, number]), 3)
    t.equal(chunks.tasks.length, 4)
    t.same(await (await chunks.applyAsync()).get(T), [[0, 2, 4], [6, 8, 10], [12, 14, 16], [18]])
    t.throws(() => add.chunks([], 0), { name: 'InvalidArgumentError', message: /size must be a positive integer/ })
  })

  t.test('options on a canvas reach its tasks; the chain and group pass parent and root ids', async (t) => {
    const result = await chain(add.s(1, 1), lineage.s()).applyAsync([], { priority: 5 })
    const { value, parentId, rootId } = await result.get(T)
    const first = result.parent as AsyncResult
    t.equal(value, 2)
    t.equal(parentId, first.id, "the parent is the step before")
    t.equal(rootId, first.id, "the root is the chain's first task")
  })

  t.test('a saved group is restored from its id by another app, nested groups too; delete removes it', async (t) => {
    const sent = (await group([add.s(1, 1), group([add.s(2, 2), mul.s(3, 3)])]).applyAsync()) as GroupResult<[number, number[]]>
    await sent.save()
    // Another app on the same broker and backend: what a web process that kept only the id has.
    const other = createApp({ name: fx.app.name, broker: fx.app.conf.broker, backend: fx.app.conf.backend })
    t.teardown(() => other.close())
    const restored = await other.restoreGroup<[number, number[]]>(sent.id)
    t.ok(restored instanceof GroupResult)
    t.equal(restored!.id, sent.id)
    t.same(restored!.results.map((r) => r.id), sent.results.map((r) => r.id), 'the same members, in order')
    t.ok(restored!.results[1] instanceof GroupResult, 'a nested group comes back a group')
    t.same(await restored!.get(T), [2, [4, 9]])
    t.equal(await restored!.completedCount(), 2)
    t.equal(await other.restoreGroup(crypto.randomUUID()), undefined, 'nothing saved under an unknown id')
    t.equal(await other.restoreGroup(sent.results[0].id), undefined, "a task's id is not a group's")
    await restored!.delete()
    t.equal(await fx.app.restoreGroup(sent.id), undefined, 'deleted')
    t.equal(await sent.results[0].get(T), 2, "delete leaves the members' results")
    await t.rejects(new GroupResult('empty', []).save(), { name: 'InvalidArgumentError', message: /cannot save a group with no task in it/ })
    await t.rejects(fx.app.restoreGroup(''), { name: 'InvalidArgumentError', message: /group id must be a non-empty string/ })
  })

  t.test('bad canvases are clear errors, before anything is sent', async (t) => {
    t.throws(() => chain(...([] as unknown as [never])), { message: /at least one step/ })
    t.throws(() => group([{ not: 'a signature' } as never]), { message: /group member 0 must be a signature/ })
    t.throws(() => chord([add.s(1, 1)], 42 as never), { message: /chord body must be a signature/ })
    t.throws(() => signature(''), { message: /needs a task name/ })
    const untyped = add.s.bind(add) as (...args: unknown[]) => Signature
    await t.rejects(untyped(1, 2, 3).delay(), { name: 'InvalidArgumentError', message: /c.add takes 2 arguments, got 3/ })
  })
}
