import t from 'tap'
import { formatEvent } from '../../src/cli/events.js'
import type { CeleriacEvent } from '../../src/index.js'

// CLI audit: `events --dump` promises one line per event, but a failure's traceback spread
// over many, and an eta showed as epoch milliseconds.
t.test('events --dump: one line per event; an eta as a time', async (t) => {
  const failed = { type: 'task-failed', uuid: 'u1', hostname: 'w1@h', timestamp: Date.UTC(2026, 11, 7), exception: "Error('boom')", traceback: 'Error: boom\n    at run (app.ts:3:9)' } as unknown as CeleriacEvent
  t.equal(formatEvent(failed), '2026-12-07T00:00:00.000Z w1@h task-failed uuid=u1 exception=Error(\'boom\') traceback="Error: boom\\n    at run (app.ts:3:9)"')
  const received = { type: 'task-received', uuid: 'u2', hostname: 'w1@h', timestamp: Date.UTC(2026, 11, 7), name: 't.add', eta: Date.UTC(2026, 11, 7, 0, 0, 5) } as unknown as CeleriacEvent
  t.equal(formatEvent(received), '2026-12-07T00:00:00.000Z w1@h task-received uuid=u2 name=t.add eta=2026-12-07T00:00:05.000Z')
})
