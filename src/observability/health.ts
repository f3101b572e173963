/**
 * Liveness and readiness of a worker node, for an orchestrator's probes. Alive while its event
 * loop answers and it has not stopped or failed; ready while it runs, consumes every queue it
 * should, has its threads up, and its broker answers a ping within {@link BROKER_TIMEOUT_MS} (so a
 * node whose broker connection is lost turns not-ready, and ready again once it reconnects).
 * @module
 */
import type { ObservedNode } from '../worker/worker-observer.js'
import type { Reply } from './http-endpoint.js'

/** How long readiness waits for the broker to answer, ms. */
export const BROKER_TIMEOUT_MS = 1_000

const JSON_TYPE = 'application/json'

/** `/livez`: 200 unless the node stopped or failed (an event loop that is stuck never answers at all). */
export function liveness(node: ObservedNode): Reply {
  const state = node.state()
  const alive = state !== 'stopped' && state !== 'failed'
  return { status: alive ? 200 : 503, contentType: JSON_TYPE, body: JSON.stringify({ alive, state }) + '\n' }
}

/** `/readyz`: 200 with every check true, 503 naming the checks that fail. */
export async function readiness(node: ObservedNode): Promise<Reply> {
  const queues = node.queues()
  const checks = {
    running: node.state() === 'running',
    consuming: queues.length > 0 && queues.every((queue) => node.consuming(queue)),
    threads: node.threads() > 0 && node.threadsUp() >= node.threads(),
    broker: await brokerAnswers(node, queues[0]),
  }
  const ready = Object.values(checks).every(Boolean)
  return { status: ready ? 200 : 503, contentType: JSON_TYPE, body: JSON.stringify({ ready, checks }) + '\n' }
}

/** One round trip to the broker about a queue this node consumes, within the timeout. */
async function brokerAnswers(node: ObservedNode, queue: string | undefined): Promise<boolean> {
  const transport = node.transport()
  if (transport === undefined || queue === undefined) return false
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), BROKER_TIMEOUT_MS)
  })
  const asked = (transport.ping ? transport.ping() : transport.depth(queue)).then(() => true, () => false)
  try {
    return await Promise.race([asked, timeout])
  } finally {
    clearTimeout(timer)
  }
}
