import t from 'tap'
import { InvalidArgumentError } from '../../src/errors.js'
import { AsyncQueue } from '../../src/util/async-queue.js'
import { SimulatedClock } from '../../src/util/clock.js'
import { optionalMs, toMs } from '../../src/util/duration.js'
import { parseRateLimit } from '../../src/util/rate-limit.js'

t.test('duration - numbers are seconds', async (t) => {
  t.equal(toMs(0, 'countdown'), 0)
  t.equal(toMs(1, 'countdown'), 1000)
  t.equal(toMs(1.5, 'countdown'), 1500)
  t.equal(toMs(86_400, 'countdown'), 86_400_000)
})

t.test('duration - strings carry a unit, seconds by default', async (t) => {
  t.equal(toMs('500ms', 'f'), 500)
  t.equal(toMs('10s', 'f'), 10_000)
  t.equal(toMs('5m', 'f'), 300_000)
  t.equal(toMs('2h', 'f'), 7_200_000)
  t.equal(toMs('1d', 'f'), 86_400_000)
  t.equal(toMs('10', 'f'), 10_000)
  t.equal(toMs('1.5s', 'f'), 1500)
  t.equal(toMs(' 2 h ', 'f'), 7_200_000, 'spaces around and between')
  t.equal(toMs('0ms', 'f'), 0)
})

t.test('duration - bad values name the field', async (t) => {
  const numeric = (got: string) => new InvalidArgumentError(`countdown must be a non-negative number of seconds or a duration string, got ${got}`)
  const text = (got: string) => new InvalidArgumentError(`countdown must be a non-negative number of seconds or a duration string like '10s', got ${got}`)
  t.throws(() => toMs(-1, 'countdown'), numeric('-1'))
  t.throws(() => toMs(NaN, 'countdown'), numeric('NaN'))
  t.throws(() => toMs(Infinity, 'countdown'), numeric('Infinity'))
  t.throws(() => toMs('-1s', 'countdown'), text('"-1s"'))
  t.throws(() => toMs('10 minutes', 'countdown'), text('"10 minutes"'))
  t.throws(() => toMs('', 'countdown'), text('""'))
  t.throws(() => toMs('1w', 'countdown'), text('"1w"'))
  t.throws(() => toMs(null as unknown as number, 'countdown'), text('null'))
  t.throws(() => toMs({} as unknown as number, 'options.expires'), new InvalidArgumentError(`options.expires must be a non-negative number of seconds or a duration string like '10s', got {}`))
})

t.test('duration - optionalMs passes undefined and null through', async (t) => {
  t.equal(optionalMs(undefined, 'f'), undefined)
  t.equal(optionalMs(null, 'f'), undefined)
  t.equal(optionalMs('2s', 'f'), 2000)
  t.equal(optionalMs(0, 'f'), 0)
  t.throws(() => optionalMs('x', 'timeLimit'), InvalidArgumentError)
})

t.test('rate limit - parses counts per second, minute and hour into an interval', async (t) => {
  t.equal(parseRateLimit('10/s', 'f'), 100)
  t.equal(parseRateLimit('10/m', 'f'), 6000)
  t.equal(parseRateLimit('10/h', 'f'), 360_000)
  t.equal(parseRateLimit('10', 'f'), 100, 'per second by default')
  t.equal(parseRateLimit(' 4 / s ', 'f'), 250)
  t.equal(parseRateLimit('0.5/s', 'f'), 2000)
  t.equal(parseRateLimit(5, 'f'), 200, 'a number is tasks per second')
  t.equal(parseRateLimit(0.5, 'f'), 2000)
})

t.test('rate limit - zero means unlimited', async (t) => {
  t.equal(parseRateLimit(0, 'f'), 0)
  t.equal(parseRateLimit('0', 'f'), 0)
  t.equal(parseRateLimit('0/m', 'f'), 0)
})

t.test('rate limit - bad values name the field', async (t) => {
  const text = (got: string) => new InvalidArgumentError(`options.rateLimit must be a rate like '10/s', '10/m' or '10/h', got ${got}`)
  const numeric = (got: string) => new InvalidArgumentError(`options.rateLimit must be a non-negative number of tasks per second or a string like '10/m', got ${got}`)
  t.throws(() => parseRateLimit('10/d', 'options.rateLimit'), text('"10/d"'))
  t.throws(() => parseRateLimit('fast', 'options.rateLimit'), text('"fast"'))
  t.throws(() => parseRateLimit('-1/s', 'options.rateLimit'), text('"-1/s"'))
  t.throws(() => parseRateLimit('', 'options.rateLimit'), text('""'))
  t.throws(() => parseRateLimit('/s', 'options.rateLimit'), text('"/s"'))
  t.throws(() => parseRateLimit(-1, 'options.rateLimit'), numeric('-1'))
  t.throws(() => parseRateLimit(NaN, 'options.rateLimit'), numeric('NaN'))
  t.throws(() => parseRateLimit(Infinity, 'options.rateLimit'), numeric('Infinity'))
  t.throws(() => parseRateLimit(null as unknown as string, 'options.rateLimit'), text('null'))
})

t.test('clock - SimulatedClock starts where told and moves only on advance', async (t) => {
  t.equal(new SimulatedClock().now(), 0)
  const clock = new SimulatedClock(Date.UTC(2026, 0, 1))
  t.equal(clock.now(), Date.UTC(2026, 0, 1))
  clock.advance(1500)
  t.equal(clock.now(), Date.UTC(2026, 0, 1) + 1500)
})

t.test('clock - timers fire in time order, ties in the order they were set', async (t) => {
  const clock = new SimulatedClock(100)
  const fired: [string, number][] = []
  const at = (name: string) => () => fired.push([name, clock.now()])
  clock.setTimeout(at('c'), 30)
  clock.setTimeout(at('a'), 10)
  clock.setTimeout(at('b1'), 20)
  clock.setTimeout(at('b2'), 20)
  clock.setTimeout(at('late'), 31)
  t.equal(clock.pending, 5)
  clock.advance(30)
  t.same(fired, [['a', 110], ['b1', 120], ['b2', 120], ['c', 130]], 'now is the due time inside each callback')
  t.equal(clock.pending, 1)
  t.equal(clock.now(), 130)
  clock.advance(1)
  t.same(fired.at(-1), ['late', 131])
  t.equal(clock.pending, 0)
})

t.test('clock - timers set by a callback fire within the same advance when due', async (t) => {
  const clock = new SimulatedClock()
  const fired: number[] = []
  clock.setTimeout(() => {
    fired.push(clock.now())
    clock.setTimeout(() => fired.push(clock.now()), 10)
    clock.setTimeout(() => fired.push(clock.now()), 1000)
  }, 10)
  clock.advance(100)
  t.same(fired, [10, 20])
  t.equal(clock.pending, 1)
  t.equal(clock.now(), 100, 'ends at the target time')
})

t.test('clock - zero and negative delays fire on the next advance', async (t) => {
  const clock = new SimulatedClock(50)
  let fired = 0
  clock.setTimeout(() => fired++, 0)
  clock.setTimeout(() => fired++, -10)
  t.equal(fired, 0, 'never synchronously')
  clock.advance(0)
  t.equal(fired, 2)
  t.equal(clock.now(), 50)
})

t.test('clock - clearTimeout cancels one timer only', async (t) => {
  const clock = new SimulatedClock()
  const fired: string[] = []
  const a = clock.setTimeout(() => fired.push('a'), 10)
  clock.setTimeout(() => fired.push('b'), 10)
  clock.clearTimeout(a)
  t.equal(clock.pending, 1)
  clock.clearTimeout(a)
  clock.clearTimeout(12345)
  t.equal(clock.pending, 1, 'clearing twice or an unknown handle is harmless')
  clock.advance(10)
  t.same(fired, ['b'])
  t.not(clock.setTimeout(() => {}, 1), a, 'handles are not reused')
})

t.test('async queue - items pushed before reading are read in order', async (t) => {
  const queue = new AsyncQueue<number>()
  queue.push(1)
  queue.push(2)
  t.same(await queue.next(), { value: 1, done: false })
  t.same(await queue.next(), { value: 2, done: false })
})

t.test('async queue - a waiting reader gets the next push', async (t) => {
  const queue = new AsyncQueue<string>()
  const waiting = queue.next()
  queue.push('a')
  queue.push('b')
  t.same(await waiting, { value: 'a', done: false })
  t.same(await queue.next(), { value: 'b', done: false })
})

t.test('async queue - end drains pushed items, then reports done; later pushes are dropped', async (t) => {
  let returned = 0
  const queue = new AsyncQueue<number>(() => returned++)
  queue.push(1)
  queue.push(2)
  queue.end()
  queue.push(3)
  const seen: number[] = []
  for await (const item of queue) seen.push(item)
  t.same(seen, [1, 2])
  t.same(await queue.next(), { value: undefined, done: true })
  queue.end()
  t.equal(returned, 1, 'onReturn runs once')
})

t.test('async queue - end releases a waiting reader', async (t) => {
  const queue = new AsyncQueue<number>()
  const waiting = queue.next()
  queue.end()
  t.same(await waiting, { value: undefined, done: true })
})

t.test('async queue - end with an error throws after the items, once', async (t) => {
  const queue = new AsyncQueue<number>()
  const boom = new Error('boom')
  queue.push(1)
  queue.end(boom)
  t.same(await queue.next(), { value: 1, done: false })
  await t.rejects(queue.next(), boom)
  t.same(await queue.next(), { value: undefined, done: true }, 'then plain done')
})

t.test('async queue - for await ends with the error', async (t) => {
  const queue = new AsyncQueue<number>()
  queue.push(1)
  queue.end(new Error('boom'))
  const seen: number[] = []
  await t.rejects(
    (async () => {
      for await (const item of queue) seen.push(item)
    })(),
    { message: 'boom' },
  )
  t.same(seen, [1])
})

t.test('async queue - end with an error rejects a reader already waiting', async (t) => {
  const queue = new AsyncQueue<number>()
  const waiting = queue.next()
  queue.end(new Error('boom'))
  await t.rejects(waiting, { message: 'boom' }, 'the waiting read')
  const looping = new AsyncQueue<number>()
  const loop = (async () => {
    for await (const _ of looping);
  })()
  await Promise.resolve()
  looping.end(new Error('boom'))
  await t.rejects(loop, { message: 'boom' }, 'a for-await loop')
})

t.test('async queue - return drops buffered items and runs onReturn once', async (t) => {
  let returned = 0
  const queue = new AsyncQueue<number>(() => returned++)
  queue.push(1)
  queue.push(2)
  t.same(await queue.return(), { value: undefined, done: true })
  t.equal(returned, 1)
  t.same(await queue.next(), { value: undefined, done: true })
  queue.push(3)
  t.same(await queue.next(), { value: undefined, done: true })
  await queue.return()
  queue.end()
  t.equal(returned, 1)
})

t.test('async queue - breaking out of for await returns the iterator', async (t) => {
  let returned = 0
  const queue = new AsyncQueue<number>(() => returned++)
  queue.push(1)
  queue.push(2)
  for await (const item of queue) {
    t.equal(item, 1)
    break
  }
  t.equal(returned, 1)
  t.equal(queue[Symbol.asyncIterator](), queue)
})
