/**
 * Sending a canvas: plan it (plan.ts), store its chord records, publish its first tasks. What
 * comes later travels with them; the worker that finishes a task sends what follows
 * (continuation.ts).
 * @module
 */
import { GroupResult } from '../result/group-result.js'
import { requireCapability } from '../result/backend.js'
import { planCanvas, type ResultShape, type SendPlan } from './plan.js'
import { currentContext } from '../task/task.js'
import type { AsyncResult } from '../result/async-result.js'
import type { CallOptions } from './call-options.js'
import type { SignatureData } from './data.js'
import type { CanvasHost, FlowHost } from './host.js'

/**
 * Publishes a plan: its chord records first (a member may finish before its siblings are
 * sent, and must find its chord), then its tasks.
 */
export async function sendPlan(host: FlowHost, plan: SendPlan): Promise<void> {
  if (plan.chords.length > 0) {
    const chords = requireCapability(await host.backend(), 'chords', 'chords')
    await Promise.all(plan.chords.map((record) => chords.start(record)))
  }
  await Promise.all(plan.sends.map((send) => host.sendTask(send.task, send.args, send.options, send.flow)))
}

/**
 * Sends a canvas from the caller and returns its result handle. `args` are the caller's
 * partial arguments, prepended to the first tasks' own.
 */
export async function applyCanvas(host: CanvasHost, data: SignatureData, args: readonly unknown[], options: CallOptions): Promise<AsyncResult | GroupResult> {
  // Sent while a task runs here: its first tasks' parent is that task, their root its root, as
  // for a single task (see the publisher), unless the caller says otherwise.
  const running = currentContext.getStore()?.request
  const plan = planCanvas(data, args, running === undefined ? options : { ...options, rootId: options.rootId ?? running.rootId, parentId: options.parentId ?? running.id })
  const result = handleOf(host, plan.result)
  await sendPlan(host, plan)
  return result
}

/** The result handle of a planned canvas. */
export function handleOf(host: Pick<CanvasHost, 'asyncResult'>, shape: ResultShape): AsyncResult | GroupResult {
  // Along the parents without recursion: a chain of many thousand steps is one long line.
  const line: ResultShape[] = []
  for (let part: ResultShape | undefined = shape; part; part = part.parent) line.push(part)
  let handle: AsyncResult | GroupResult | undefined
  for (const part of line.reverse()) {
    const parent = handle
    handle = part.type === 'group' ? new GroupResult(part.id, part.members.map((member) => handleOf(host, member))) : host.asyncResult(part.id)
    if (parent) handle.parent = parent
  }
  return handle!
}
