import t from 'tap'
import { TaskLog } from '../../src/worker/task-log.js'
import { msgpackCodec } from '../../src/serialization/codec.js'
import { consoleLogger, type Logger, type LogLevel } from '../../src/util/logger.js'
import type { InFlight } from '../../src/worker/in-flight.js'

/** A logger keeping its lines, at `level` and above. */
function keeping(level: LogLevel): Logger & { lines: string[] } {
  const kept = consoleLogger(level)
  const lines: string[] = []
  const write = (name: Exclude<LogLevel, 'silent'>) => (message: string) => void (kept.isLevelEnabled!(name) && lines.push(`${name} ${message}`))
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), isLevelEnabled: kept.isLevelEnabled }
}

// The lines read only an item's headers.
const item = { headers: { task: 'shop.order', id: 'o-1' } } as InFlight

t.test('at info: received, succeeded with the result as util.inspect shows it, retry', async (t) => {
  const logger = keeping('info')
  const log = new TaskLog(logger, () => ({}))
  log.received(item)
  log.succeeded(item, 12.3456, msgpackCodec.encode({ total: 3, items: ['a'] }), undefined)
  log.succeeded(item, 1, undefined, undefined)
  log.retry(item, 5000, { type: 'Timeout', message: 'shop slow', stack: '' } as never)
  t.same(logger.lines, [
    'info task shop.order[o-1] received',
    "info task shop.order[o-1] succeeded in 0.012 s: { total: 3, items: [ 'a' ] }",
    'info task shop.order[o-1] succeeded in 0.001 s: undefined',
    'info task shop.order[o-1] retry in 5.000 s: Timeout: shop slow',
  ])
})

t.test('a long result is cut at 1024 characters; bytes that do not decode are named, not thrown', async (t) => {
  const logger = keeping('info')
  const log = new TaskLog(logger, () => ({}))
  log.succeeded(item, 1, msgpackCodec.encode('x'.repeat(5000)), undefined)
  log.succeeded(item, 1, new Uint8Array([0x92, 0x01]), undefined)
  t.equal(logger.lines[0].length, 'info task shop.order[o-1] succeeded in 0.001 s: '.length + 1024 + 3)
  t.match(logger.lines[0], /x\.\.\.$/)
  t.equal(logger.lines[1], 'info task shop.order[o-1] succeeded in 0.001 s: <2 bytes that do not decode>')
})

t.test('at warning: no info line is built, so a result is not even decoded', async (t) => {
  const logger = keeping('warn')
  const log = new TaskLog(logger, () => ({}))
  log.received(item)
  log.succeeded(item, 1, new Uint8Array([0x92, 0x01]), undefined)
  log.raised(item, { type: 'Error', message: 'boom', stack: 'Error: boom' } as never, 2)
  t.same(logger.lines, ['error task shop.order[o-1] raised Error: boom after 0.002 s'])
})
