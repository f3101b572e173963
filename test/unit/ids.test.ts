import t from 'tap'
import { newTaskId } from '../../src/util/ids.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('ids - task ids are UUID v4 strings, all different', async (t) => {
  // Several draws of random bytes: the pool refills every 64 ids.
  const ids = Array.from({ length: 1000 }, () => newTaskId())
  t.equal(ids.filter((id) => !UUID_V4.test(id)).length, 0, 'every id is a UUID v4')
  t.equal(new Set(ids).size, ids.length, 'no id repeats')
  // Each hex digit of the random part is used: no position is stuck.
  for (const position of [0, 9, 15, 20, 35]) t.ok(new Set(ids.map((id) => id[position])).size > 8, `position ${position} varies`)
})
