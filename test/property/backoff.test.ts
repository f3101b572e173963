import fc from 'fast-check'
import t from 'tap'
import { backoffDelay } from '../../src/task/backoff.js'

const factor = fc.integer({ min: 0, max: 60_000 })
const retries = fc.integer({ min: 0, max: 64 })
const max = fc.integer({ min: 0, max: 3_600_000 })
// Math.random's range: [0, 1).
const random = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })

t.test('backoff property - without jitter the delay is exactly min(max, factor * 2^retries)', async (t) => {
  fc.assert(
    fc.property(factor, retries, max, (f, r, m) => backoffDelay(f, r, m, false) === Math.min(m, f * 2 ** r)),
    { numRuns: 1000 },
  )
  t.pass()
})

t.test('backoff property - with jitter the delay is a whole number in [0, min(max, factor * 2^retries)]', async (t) => {
  fc.assert(
    fc.property(factor, retries, max, random, (f, r, m, x) => {
      const delay = backoffDelay(f, r, m, true, () => x)
      return Number.isInteger(delay) && delay >= 0 && delay <= Math.min(m, f * 2 ** r)
    }),
    { numRuns: 1000 },
  )
  t.pass()
})

t.test('backoff property - jitter scales with the random draw', async (t) => {
  fc.assert(
    fc.property(factor, retries, max, random, random, (f, r, m, x, y) => {
      const [low, high] = x <= y ? [x, y] : [y, x]
      return backoffDelay(f, r, m, true, () => low) <= backoffDelay(f, r, m, true, () => high)
    }),
    { numRuns: 500 },
  )
  t.pass()
})

t.test('backoff property - the delay never shrinks as retries grow', async (t) => {
  fc.assert(
    fc.property(factor, retries, max, (f, r, m) => backoffDelay(f, r, m, false) <= backoffDelay(f, r + 1, m, false)),
    { numRuns: 500 },
  )
  t.pass()
})

t.test('backoff - examples', async (t) => {
  t.equal(backoffDelay(1000, 0, 600_000, false), 1000)
  t.equal(backoffDelay(1000, 3, 600_000, false), 8000)
  t.equal(backoffDelay(1000, 20, 600_000, false), 600_000, 'capped')
  t.equal(backoffDelay(1000, 1024, 600_000, false), 600_000, '2^1024 is Infinity, still capped')
  t.equal(backoffDelay(1000, 3, 600_000, true, () => 0.5), 4000)
  t.equal(backoffDelay(1000, 3, 600_000, true, () => 0), 0)
  t.equal(backoffDelay(0, 10, 600_000, true, () => 0.9), 0)
  const draws = Array.from({ length: 200 }, () => backoffDelay(1000, 2, 600_000, true))
  t.ok(draws.every((d) => d >= 0 && d <= 4000), 'Math.random by default')
})
