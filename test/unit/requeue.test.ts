// An outside audit found that a second Reject requeue of an early-acked task reused the first
// copy's message id, so the broker's duplicate window dropped it: each copy needs its own id,
// and a publish retried for the same copy must keep it.
import t from 'tap'
import { deliveryLimit, earlierDeliveries, requeueMsgId } from '../../src/worker/requeue.js'
import { DEFAULTS } from '../../src/config/defaults.js'
import type { TaskHeaders } from '../../src/protocol/envelope.js'

const headers = { id: 'a1', task: 't.x', retries: 0, rootId: 'a1', contentType: 'application/x-msgpack' } as TaskHeaders

t.test('requeue - each copy gets an id of its own; the same copy always the same one', async (t) => {
  const ids = [1, 2, 3].map((n) => requeueMsgId(headers, n))
  t.equal(new Set(ids).size, 3)
  t.equal(requeueMsgId(headers, 2), requeueMsgId(headers, 2), 'a retried publish of one copy is a duplicate')
  t.not(requeueMsgId({ ...headers, retries: 1 }, 1), requeueMsgId(headers, 1), 'a copy after a retry is another message')
})

t.test('requeue - a copy tells how many deliveries came before it; a task as sent, or retried, none', async (t) => {
  t.equal(earlierDeliveries(headers, { msgId: 'a1' }), 0)
  t.equal(earlierDeliveries(headers, { msgId: undefined }), 0)
  t.equal(earlierDeliveries({ ...headers, retries: 1 }, { msgId: 'a1.r1.1' }), 0, 'a retry starts counting again')
  t.equal(earlierDeliveries(headers, { msgId: requeueMsgId(headers, 4) }), 4)
  t.equal(earlierDeliveries({ ...headers, retries: 1 }, { msgId: requeueMsgId(headers, 4) }), 0, 'a copy from before a retry does not count')
})

t.test('requeue - the limit is the queue\'s maxDeliver, else brokerMaxDeliver; null is none', async (t) => {
  const conf = { ...DEFAULTS, taskQueues: [{ name: 'q', maxDeliver: 3 }, { name: 'free', maxDeliver: null }] } as never
  t.equal(deliveryLimit(conf, 'q'), 3)
  t.equal(deliveryLimit(conf, 'free'), Infinity)
  t.equal(deliveryLimit(conf, 'celery'), DEFAULTS.brokerMaxDeliver)
  t.equal(deliveryLimit({ ...DEFAULTS, brokerMaxDeliver: null } as never, 'celery'), Infinity)
})
