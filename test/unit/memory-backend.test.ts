import t from 'tap'
import { BackendError, InvalidArgumentError } from '../../src/errors.js'
import type { TaskMeta } from '../../src/result/backend.js'
import {
  DEFAULT_RESULT_EXPIRES_MS, MemoryBackend, MemoryResultStore, memoryResultStore,
} from '../../src/result/memory/memory-backend.js'
import { SimulatedClock } from '../../src/util/clock.js'

const START = Date.UTC(2026, 0, 1)

function setup(resultExpiresMs?: number) {
  const clock = new SimulatedClock(START)
  const store = new MemoryResultStore()
  const backend = new MemoryBackend({ store, clock, ...(resultExpiresMs === undefined ? {} : { resultExpiresMs }) })
  return { clock, store, backend }
}

t.test('memory backend - a record reads until resultExpiresMs after it was stored', async (t) => {
  const { clock, backend } = setup(10_000)
  await backend.store({ taskId: 'a', state: 'SUCCESS' })
  clock.advance(9_999)
  t.equal((await backend.get('a'))?.state, 'SUCCESS', 'alive 1 ms before expiry')
  clock.advance(1)
  t.equal(await backend.get('a'), undefined, 'gone at expiry')
  await backend.close()
})

t.test('memory backend - storing again restarts the expiry', async (t) => {
  const { clock, backend } = setup(10_000)
  await backend.store({ taskId: 'a', state: 'STARTED' })
  clock.advance(8_000)
  await backend.store({ taskId: 'a', state: 'SUCCESS' })
  clock.advance(8_000)
  t.equal((await backend.get('a'))?.state, 'SUCCESS')
  clock.advance(2_000)
  t.equal(await backend.get('a'), undefined)
  await backend.close()
})

t.test('memory backend - the sweep prunes expired records nobody reads', async (t) => {
  const { clock, store, backend } = setup(10_000)
  await backend.store({ taskId: 'old', state: 'SUCCESS' })
  clock.advance(5_000)
  await backend.store({ taskId: 'young', state: 'SUCCESS' })
  await backend.store({ taskId: 'old-again', state: 'SUCCESS' })
  t.equal(store.size, 3)
  t.equal(clock.pending, 1, 'one sweep timer, however many stores')
  clock.advance(5_000)
  t.equal(store.size, 2, 'the first sweep removed the expired record only')
  t.ok(store.read('young'), 'the younger record is kept')
  clock.advance(10_000)
  t.equal(store.size, 0, 'the next sweep removed the rest')
  t.equal(clock.pending, 0, 'an empty store stops the sweep')
  await backend.store({ taskId: 'new', state: 'SUCCESS' })
  t.equal(clock.pending, 1, 'the next store starts it again')
  store.clear()
  t.equal(store.size, 0, 'clear drops every record')
  await backend.close()
})

t.test('memory store - prune removes what expired, wherever it stands, and nothing alive', async (t) => {
  const store = new MemoryResultStore()
  const meta = (taskId: string, state = 'SUCCESS'): TaskMeta => ({ taskId, state })
  store.put(meta('early', 'RECEIVED'), 0)
  store.put(meta('a'), 10)
  store.put(meta('early'), 30) // stored again later: it stays where it first stood
  store.put(meta('b'), 20)
  t.equal(store.prune(15), 1, 'one record expired by 15')
  t.same([store.read('early')?.at, store.read('a'), store.read('b')?.at], [30, undefined, 20], 'the record stored again at 30 is alive')
  t.equal(store.prune(25), 1, 'b expired by 25, behind early, which the last walk moved')
  t.equal(store.read('b'), undefined)
  t.equal(store.size, 1)
  t.equal(store.prune(30), 1)
  t.equal(store.size, 0)

  const seen: string[] = []
  const unwatch = store.watch('w', (m) => seen.push(String(m.state)))
  store.put(meta('w', 'RECEIVED'), 40)
  store.delete('w')
  t.equal(store.size, 0, 'a deleted record is not counted while its watch stays')
  t.equal(store.prune(100), 0)
  store.put(meta('w'), 110)
  t.same(seen, ['RECEIVED', 'SUCCESS'], 'the watch outlived the delete and the prune')
  t.equal(store.size, 1)
  unwatch()
  t.equal(store.read('w')?.meta.state, 'SUCCESS', 'unwatching keeps the record')
  store.clear()
  t.equal(store.read('w'), undefined)
  t.equal(store.prune(Infinity), 0)
})

t.test('memory backend - 0 and Infinity never expire and start no timer', async (t) => {
  for (const resultExpiresMs of [0, Infinity]) {
    const { clock, backend } = setup(resultExpiresMs)
    t.equal(backend.resultExpiresMs, 0)
    await backend.store({ taskId: 'a', state: 'SUCCESS' })
    t.equal(clock.pending, 0, `${resultExpiresMs}: no sweep`)
    clock.advance(365 * DEFAULT_RESULT_EXPIRES_MS)
    t.equal((await backend.get('a'))?.state, 'SUCCESS', `${resultExpiresMs}: still there after a year`)
    await backend.close()
  }
})

t.test('memory backend - the default expiry is one day', async (t) => {
  const { clock, backend } = setup()
  t.equal(backend.resultExpiresMs, 86_400_000)
  await backend.store({ taskId: 'a', state: 'SUCCESS' })
  clock.advance(86_399_999)
  t.ok(await backend.get('a'))
  clock.advance(1)
  t.equal(await backend.get('a'), undefined)
  await backend.close()
})

t.test('memory backend - a bad resultExpiresMs is refused', async (t) => {
  for (const resultExpiresMs of [-1, Number.NaN, '10' as unknown as number]) {
    t.throws(() => new MemoryBackend({ resultExpiresMs }), new InvalidArgumentError('options.resultExpiresMs must be a non-negative number of milliseconds'))
  }
})

t.test('memory backend - a record without a task id is refused', async (t) => {
  const { backend } = setup()
  await t.rejects(backend.store({ state: 'SUCCESS' } as TaskMeta), new InvalidArgumentError('meta.taskId must be a non-empty string'))
  await t.rejects(backend.store({ taskId: '', state: 'SUCCESS' }), InvalidArgumentError)
})

t.test('memory backend - close stops the sweep and ends watches', async (t) => {
  const { clock, backend, store } = setup(10_000)
  const seen: string[] = []
  await backend.watch('a', (meta) => seen.push(String(meta.state)))
  await backend.store({ taskId: 'a', state: 'STARTED' })
  t.equal(clock.pending, 1)
  await backend.close()
  t.equal(clock.pending, 0, 'no timer left')
  const other = new MemoryBackend({ store, clock })
  await other.store({ taskId: 'a', state: 'SUCCESS' })
  t.same(seen, ['STARTED'], 'the closed backend watch saw nothing more')
  await other.close()
})

t.test('memory backend - calls after close reject with BackendError', async (t) => {
  const { backend } = setup()
  await backend.close()
  await backend.close()
  const closed = new BackendError('memory backend is closed')
  await t.rejects(backend.connect(), closed)
  await t.rejects(backend.store({ taskId: 'a', state: 'SUCCESS' }), closed)
  await t.rejects(backend.get('a'), closed)
  await t.rejects(backend.forget('a'), closed)
  await t.rejects(backend.watch('a', () => {}), closed)
})

t.test('memory backend - listeners run synchronously, before store returns', async (t) => {
  const { backend } = setup()
  const seen: string[] = []
  await backend.watch('a', (meta) => seen.push(String(meta.state)))
  const stored = backend.store({ taskId: 'a', state: 'SUCCESS' })
  t.same(seen, ['SUCCESS'])
  await stored
  await backend.close()
})

t.test('memory backend - a throwing listener neither fails the store nor starves the others', async (t) => {
  const { backend } = setup()
  const reported = t.capture(globalThis, 'queueMicrotask', () => {})
  const seen: string[] = []
  await backend.watch('a', () => {
    throw new Error('listener bug')
  })
  await backend.watch('a', (meta) => seen.push(String(meta.state)))
  await backend.store({ taskId: 'a', state: 'SUCCESS' })
  reported.restore()
  t.same(seen, ['SUCCESS'])
  const [call] = reported.calls
  t.throws(() => (call?.args[0] as () => void)(), { message: 'listener bug' }, 'the error is rethrown outside store')
  await backend.close()
})

t.test('memory backend - a listener that unwatches during delivery does not disturb the others', async (t) => {
  const { backend } = setup()
  const seen: string[] = []
  const unwatchFirst = await backend.watch('a', () => {
    seen.push('first')
    unwatchFirst()
  })
  await backend.watch('a', () => seen.push('second'))
  await backend.store({ taskId: 'a', state: 'STARTED' })
  await backend.store({ taskId: 'a', state: 'SUCCESS' })
  t.same(seen, ['first', 'second', 'second'])
  await backend.close()
})

t.test('memory backend - memoryResultStore is one store per name', async (t) => {
  t.equal(memoryResultStore(), memoryResultStore(''))
  t.equal(memoryResultStore('other'), memoryResultStore('other'))
  t.not(memoryResultStore('other'), memoryResultStore(''))
  t.equal(memoryResultStore('other').name, 'other')

  const id = `shared-${process.pid}-${Date.now()}`
  const a = new MemoryBackend()
  const b = new MemoryBackend({ store: memoryResultStore() })
  const elsewhere = new MemoryBackend({ store: memoryResultStore('other') })
  await a.store({ taskId: id, state: 'SUCCESS' })
  t.equal((await b.get(id))?.state, 'SUCCESS', 'memory:// backends share results')
  t.equal(await elsewhere.get(id), undefined, 'memory://other does not see them')
  await Promise.all([a.forget(id), a.close(), b.close(), elsewhere.close()])
})
