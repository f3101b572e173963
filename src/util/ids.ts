import { randomFillSync } from 'node:crypto'

// Random bytes are drawn 64 ids at a time, as crypto.randomUUID() buffers them. The id is then
// written as ASCII into one scratch buffer and read back as one flat string: randomUUID()
// builds it from twenty concatenations, about 600 bytes of garbage per id, and its result is a
// rope that every Map keyed by task id has to flatten first.
const IDS_PER_DRAW = 64
const random = Buffer.allocUnsafe(16 * IDS_PER_DRAW)
let next = IDS_PER_DRAW
const text = Buffer.allocUnsafe(36)
const HEX = Buffer.from('0123456789abcdef', 'latin1')
const DASH = 0x2d

/** A new task id (a UUID v4, as Celery's). */
export function newTaskId(): string {
  if (next === IDS_PER_DRAW) {
    randomFillSync(random)
    next = 0
  }
  const start = 16 * next++
  // Version 4, variant 10 (RFC 9562).
  random[start + 6] = (random[start + 6] & 0x0f) | 0x40
  random[start + 8] = (random[start + 8] & 0x3f) | 0x80
  let at = 0
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[at++] = DASH
    const byte = random[start + i]
    text[at++] = HEX[byte >> 4]
    text[at++] = HEX[byte & 0x0f]
  }
  return text.toString('latin1', 0, 36)
}
