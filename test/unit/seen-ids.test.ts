import t from 'tap'
import { SeenIds, hashWords, uuidWords } from '../../src/transport/memory/seen-ids.js'
import { newTaskId } from '../../src/util/ids.js'

t.test('seen ids - a UUID is remembered until its time, exactly, among many', async (t) => {
  const seen = new SeenIds()
  const ids = Array.from({ length: 5000 }, () => newTaskId()) // the ring grows past its first 1024
  ids.forEach((id, i) => seen.set(id, 1000 + i))
  t.equal(seen.size, 5000)
  t.equal(ids.filter((id, i) => seen.get(id) !== 1000 + i).length, 0, 'every id reads back with its own time')
  t.equal(seen.get(newTaskId()), undefined, 'an id never remembered is not seen')
  t.equal(seen.get(ids[0].toUpperCase()), undefined, 'the same id in upper case is another id')
  seen.prune(1000 + 2499, Infinity)
  t.equal(seen.size, 2500, 'prune forgets the ids whose time is up, oldest first')
  t.equal(seen.get(ids[2499]), undefined)
  t.equal(seen.get(ids[2500]), 3500)
  seen.prune(0, 100)
  t.equal(seen.size, 100, 'and the oldest of the rest while over the maximum')
  t.equal(seen.get(ids[4899]), undefined)
  t.equal(seen.get(ids[4900]), 5900)
})

t.test('seen ids - remembering an id again moves it behind the others', async (t) => {
  const seen = new SeenIds()
  const [a, b] = [newTaskId(), newTaskId()]
  seen.set(a, 10)
  seen.set(b, 20)
  seen.set(a, 30)
  t.equal(seen.size, 2, 'one entry per id')
  t.equal(seen.get(a), 30)
  seen.prune(25, Infinity)
  t.same([seen.get(a), seen.get(b)], [30, undefined], 'the old entry of a neither stops nor counts in the walk')
  seen.prune(30, Infinity)
  t.equal(seen.size, 0)
})

t.test('seen ids - ids that are not lower-case UUIDs are remembered too', async (t) => {
  const seen = new SeenIds()
  const id = newTaskId()
  for (const other of [`${id}.r1`, id.toUpperCase(), 'beat:every-minute:1767225600000', id.replaceAll('-', ''), '']) {
    t.notOk(uuidWords(other, new Uint32Array(4)), `${JSON.stringify(other)} is not read as a UUID`)
    seen.set(other, 50)
    t.equal(seen.get(other), 50, JSON.stringify(other))
  }
  t.equal(seen.get(id), undefined, 'none of them is the UUID itself')
  seen.set(id, 60)
  t.equal(seen.size, 6)
  seen.prune(50, Infinity)
  t.equal(seen.size, 1)
  t.equal(seen.get(id), 60)
})

t.test('seen ids - ids whose hashes collide are told apart by their 128 bits', async (t) => {
  // A 30-bit hash: a collision turns up within about 2^15 random ids.
  const words = new Uint32Array(4)
  const byHash = new Map<number, string>()
  let pair: [string, string] | undefined
  while (pair === undefined) {
    const id = newTaskId()
    uuidWords(id, words)
    const hash = hashWords(words)
    const other = byHash.get(hash)
    if (other !== undefined) pair = [other, id]
    byHash.set(hash, id)
  }
  const [a, b] = pair
  const seen = new SeenIds()
  seen.set(a, 1)
  t.equal(seen.get(b), undefined, 'the other id of the same hash is not seen')
  seen.set(b, 2)
  t.same([seen.get(a), seen.get(b)], [1, 2])
  seen.set(a, 3)
  t.same([seen.get(a), seen.get(b)], [3, 2], 'remembering one again leaves the other')
  seen.prune(2, Infinity)
  t.same([seen.get(a), seen.get(b)], [3, undefined])
})

t.test('seen ids - reads and remembers of different ids, with a prune between, keep each id its own', async (t) => {
  const seen = new SeenIds()
  const [a, b] = [newTaskId(), newTaskId()]
  t.equal(seen.get(a), undefined)
  seen.set(a, 10) // what a publish does: read, then remember
  t.equal(seen.get(a), 10)
  t.equal(seen.get(b), undefined)
  seen.set(a, 20) // another id than the one read last
  t.same([seen.get(a), seen.get(b)], [20, undefined])
  t.equal(seen.size, 1)
  seen.set(b, 30)
  t.equal(seen.get(b), 30)
  seen.prune(25, Infinity) // a prune between a read and a remember: the read is stale
  seen.set(b, 40)
  t.same([seen.get(a), seen.get(b)], [undefined, 40])
  t.equal(seen.size, 1)
})

t.test('seen ids - claim: a duplicate changes nothing, a new id is remembered only when asked', async (t) => {
  const seen = new SeenIds()
  for (const id of [newTaskId(), 'beat:entry:1767225600000']) {
    t.equal(seen.claim(id, 0, undefined), false, `${id}: new, and not kept (routed nowhere)`)
    t.equal(seen.get(id), undefined)
    t.equal(seen.claim(id, 0, 100), false, 'new, and kept until 100')
    t.equal(seen.claim(id, 99, 500), true, 'a duplicate before 100')
    t.equal(seen.get(id), 100, 'which left its time as it was')
    t.equal(seen.claim(id, 100, 300), false, 'free again at 100, and kept until 300')
    t.equal(seen.get(id), 300)
  }
  t.equal(seen.size, 2)
})
