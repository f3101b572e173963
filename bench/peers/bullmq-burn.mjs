// BullMQ's sandboxed processor in the comparison bench (run in BullMQ's worker threads, which
// load plain JavaScript): the same CPU-bound task as bench/fixtures/burn.ts.
import { createHash } from 'node:crypto'

const block = new Uint8Array(1024)

export default function burn(job) {
  if (job.name === 'noop') return job.data.i
  const until = performance.now() + job.data.ms
  let rounds = 0
  while (performance.now() < until) {
    createHash('sha256').update(block).digest()
    rounds++
  }
  return rounds
}
