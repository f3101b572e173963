import { Retry, type RetryOptions } from '../errors.js'
import { newTaskId } from '../util/ids.js'
import { currentContext, type Task } from './task.js'
import type { ResolvedTaskOptions, TaskDefinition } from './definition.js'
import type { TaskContext, TaskRequest } from './context.js'

// One instance per class task in this thread, shared by every eager call, as in a worker thread.
const instances = new WeakMap<TaskDefinition, Task>()

/**
 * Runs a task in this thread, now, without a message (Celery's `add(2, 2)`): the task gets a
 * context whose request says `isEager`. Kwargs, when given, are the trailing argument.
 */
export async function runEager(definition: TaskDefinition, resolved: ResolvedTaskOptions, args: readonly unknown[], kwargs?: Record<string, unknown>): Promise<unknown> {
  const id = newTaskId()
  const all = kwargs !== undefined && Object.keys(kwargs).length > 0 ? [...args, kwargs] : [...args]
  const request: TaskRequest = {
    id, task: definition.name, args: all, kwargs: kwargs ?? {}, retries: 0, hostname: '', rootId: id, headers: {}, isEager: true,
    deliveryInfo: { exchange: '', routingKey: '', queue: '', priority: 0, redelivered: false },
  }
  const ctx: TaskContext = {
    name: definition.name,
    request,
    signal: new AbortController().signal,
    retry: (options?: RetryOptions) => {
      throw new Retry(options)
    },
    updateState: () => {},
  }
  const { fn, cls } = definition
  if (cls) {
    let instance = instances.get(definition)
    if (!instance) instances.set(definition, (instance = new cls()))
    const task = instance
    return currentContext.run(ctx, () => task.run(...all))
  }
  return currentContext.run(ctx, () => (resolved.bind ? fn!(ctx, ...all) : fn!(...all)))
}
