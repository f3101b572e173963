import t from 'tap'
import { SimulatedClock } from '../../src/testing/index.js'
import { ReasonLog } from '../../src/worker/reason-log.js'
import type { Logger } from '../../src/util/logger.js'

t.test('reason log - one line per kind of reason and period, with the count it held back', async (t) => {
  const lines: [string, Record<string, unknown> | undefined][] = []
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (message, fields) => void lines.push([message, fields]) }
  const clock = new SimulatedClock(0)
  const log = new ReasonLog(logger, clock, 1_000)
  for (let i = 0; i < 100; i++) log.note(`invalid message: headers.eta must be epoch milliseconds, got ${i}`, { queue: 'q' })
  log.note('undecodable: garbage', { queue: 'q' })
  t.same(lines, [
    ['dead-lettered a message', { reason: 'invalid message: headers.eta must be epoch milliseconds, got 0', queue: 'q' }],
    ['dead-lettered a message', { reason: 'undecodable: garbage', queue: 'q' }],
  ], 'a flood of one kind is one line; another kind has its own')
  clock.advance(1_000)
  log.note('invalid message: headers.eta must be epoch milliseconds, got NaN', { queue: 'q' })
  t.same(lines[2], ['dead-lettered a message', { reason: 'invalid message: headers.eta must be epoch milliseconds, got NaN', queue: 'q', alsoDeadLettered: 99 }])
})

t.test('reason log - a flood of distinct reasons keeps a bounded memory', async (t) => {
  let count = 0
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: () => void count++ }
  const log = new ReasonLog(logger, new SimulatedClock(0))
  for (let i = 0; i < 10_000; i++) log.note(`unregistered task t${i}`, {})
  t.equal(count, 10_000, 'distinct kinds are each logged')
  log.note('unregistered task t9999', {})
  t.equal(count, 10_000, 'a recent kind is still remembered')
})
