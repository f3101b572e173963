import t from 'tap'
import { Lookahead } from '../../src/worker/lookahead.js'

t.test('lookahead - reserves what the finish rate says starts within the horizon, capped by the slots', async (t) => {
  const ahead = new Lookahead(10, 64)
  t.equal(ahead.count, 0, 'none before any rate is known')
  ahead.sample(0, 1_000)
  t.equal(ahead.sample(800, 1_250), true, 'grew')
  t.equal(ahead.count, 32, '800 in 250 ms is 3,200 a second: 32 start within 10 ms')
  t.equal(ahead.sample(10_800, 1_500), true)
  t.equal(ahead.count, 64, 'never more than the slots')
  t.equal(ahead.sample(10_801, 1_750), false, 'shrank')
  t.equal(ahead.count, 0, 'one in 250 ms (4 a second): none within 10 ms')
})

t.test('lookahead - a horizon of 0 reserves nothing, whatever the rate', async (t) => {
  const ahead = new Lookahead(0, 64)
  ahead.sample(0, 0)
  t.equal(ahead.sample(100_000, 250), false)
  t.equal(ahead.count, 0)
})
