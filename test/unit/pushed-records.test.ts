import t from 'tap'
import { PushedRecords } from '../../src/result/nats-kv/pushed-records.js'

t.test('pushed records - a record waits for its get(), a get() waits for its record', async (t) => {
  const pushed = new PushedRecords<string>(10)
  const got: string[] = []
  pushed.expect('a')
  pushed.expect('b')
  pushed.arrive('a', 'A', 1)
  t.ok(pushed.await('a', (r) => got.push(r), () => t.fail('not lost')), 'a: there already')
  t.ok(pushed.await('b', (r) => got.push(r), () => t.fail('not lost')), 'b: waiting')
  pushed.arrive('b', 'B', 1)
  pushed.arrive('b', 'B again', 1)
  t.same(got, ['A', 'B'], 'each delivered once')
  t.equal(pushed.size, 0, 'nothing kept after delivery')
})

t.test('pushed records - what was not expected is not counted on', async (t) => {
  const pushed = new PushedRecords<string>(10)
  pushed.arrive('x', 'X', 1)
  t.equal(pushed.await('x', () => t.fail(), () => t.fail()), undefined, 'a push for a task not sent here')
  pushed.expect('y')
  t.ok(pushed.await('y', () => t.fail(), () => t.fail()), 'first waiter')
  t.equal(pushed.await('y', () => t.fail(), () => t.fail()), undefined, 'a second waiter on the same task reads instead')
})

t.test('pushed records - a loss, eviction or forget sends waiters back', async (t) => {
  const pushed = new PushedRecords<string>(2)
  const lost: string[] = []
  pushed.expect('kept')
  pushed.arrive('kept', 'K', 1)
  pushed.expect('waiting')
  pushed.await('waiting', () => t.fail(), () => lost.push('waiting'))
  pushed.lose()
  t.same(lost, ['waiting'], 'a disconnect: the waiter falls back')
  t.ok(pushed.await('kept', () => {}, () => t.fail()), 'a record already here survives it')

  pushed.expect('one')
  pushed.await('one', () => t.fail(), () => lost.push('one'))
  pushed.expect('two')
  pushed.expect('three')
  t.same(lost, ['waiting', 'one'], 'over capacity: the oldest falls back')
  t.equal(pushed.size, 2)

  pushed.await('two', () => t.fail(), () => lost.push('two'))
  pushed.forget('two')
  t.same(lost, ['waiting', 'one', 'two'], 'forgotten: falls back')
  const stop = pushed.await('three', () => t.fail('stopped'), () => t.fail('stopped'))
  stop?.()
  pushed.arrive('three', 'T', 1)
  t.equal(pushed.size, 0, 'a stopped wait keeps nothing')
})

t.test('pushed records - records kept past maxBytes make room, oldest first', async (t) => {
  const pushed = new PushedRecords<string>(100, 10)
  for (const id of ['a', 'b', 'c']) pushed.expect(id)
  pushed.arrive('a', 'A', 4)
  pushed.arrive('b', 'B', 4)
  t.equal(pushed.bytes, 8)
  pushed.arrive('c', 'C', 4)
  t.equal(pushed.bytes, 8, 'a was dropped to stay under 10 bytes')
  t.equal(pushed.await('a', () => t.fail(), () => t.fail()), undefined, 'a: read instead')
  let got = ''
  pushed.await('c', (r) => (got = r), () => t.fail())
  t.equal(got, 'C')
  t.equal(pushed.bytes, 4, 'a handed-over record no longer counts')
})

t.test('pushed records - a get() waits for its push at most the grace period, then watches and reads', async (t) => {
  // A push lost on the worker's side (its server died after it published) is invisible here.
  const pushed = new PushedRecords<string>(10, Infinity, 50)
  // The sweep does not keep a process alive (a connection does, in the backend): this test must.
  const alive = setTimeout(() => {}, 10_000)
  t.teardown(() => clearTimeout(alive))
  pushed.expect('lost')
  pushed.expect('kept')
  const fellBack = new Promise<string>((resolve) => {
    t.ok(pushed.await('lost', () => t.fail('no record came'), () => resolve('lost')))
  })
  t.equal(await fellBack, 'lost', 'the waiter falls back once the grace period is over')
  t.equal(pushed.size, 1, 'the slot is gone; a task expected but not waited on is kept')
  pushed.arrive('lost', 'LATE', 1)
  t.equal(pushed.size, 1, 'a push after the fallback is ignored')
})
