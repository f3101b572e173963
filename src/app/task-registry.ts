import { isMainThread } from 'node:worker_threads'
import { InvalidArgumentError, NotRegistered } from '../errors.js'
import { arityOf, resolveTaskOptions, type ResolvedTaskOptions, type TaskDefinition } from '../task/definition.js'
import { Task, type TaskClass } from '../task/task.js'
import type { Conf } from '../config/conf.js'
import type { TaskOptions } from '../task/options.js'

/**
 * An app's tasks by name, and each task's options with the app's defaults applied, computed
 * again after a configuration change (env or command line applied after the module loaded).
 */
export class TaskRegistry {
  readonly #conf: Conf
  readonly #appName: string
  readonly #tasks = new Map<string, TaskDefinition>()
  readonly #resolved = new Map<TaskDefinition, { options: ResolvedTaskOptions; revision: number }>()

  constructor(conf: Conf, appName: string) {
    this.#conf = conf
    this.#appName = appName
  }

  /** The tasks by name, read-only. */
  get tasks(): ReadonlyMap<string, TaskDefinition> {
    return this.#tasks
  }

  /** Registers a function or a class extending {@link Task}; its options are checked now. */
  define(name: string, impl: ((...args: any[]) => unknown) | TaskClass, options: TaskOptions<any>): TaskDefinition {
    if (typeof name === 'function') throw new InvalidArgumentError("app.task(name, fn, options): a task is named first, as it is sent by name (Celery derives 'module.fn'; e.g. app.task('tasks.add', add))")
    if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('app.task: name must be a non-empty string')
    if (typeof impl !== 'function') throw new InvalidArgumentError(`app.task(${name}): expected a function or a class extending Task`)
    if (this.#tasks.has(name)) throw new InvalidArgumentError(`app.task: a task named ${name} is already registered`)
    const definition: TaskDefinition = impl.prototype instanceof Task
      ? { name, cls: impl as TaskClass, options, arity: arityOf((impl as TaskClass).prototype.run) }
      : { name, fn: impl as (...args: any[]) => unknown, options, arity: arityOf(impl as (...args: any[]) => unknown, options.bind ? 1 : 0) }
    this.#resolved.set(definition, { options: resolveTaskOptions(name, options, this.#conf), revision: this.#conf.revision })
    this.#tasks.set(name, definition)
    return definition
  }

  /** The task named `name`, or `undefined`. */
  get(name: string): TaskDefinition | undefined {
    return this.#tasks.get(name)
  }

  /** The task named `name`, or a NotRegistered error naming the app. */
  require(name: string): TaskDefinition {
    const definition = this.#tasks.get(name)
    // In a worker thread (a map, starmap or chunks runs its task there), as actor-host.ts says it.
    if (!definition) throw new NotRegistered(`task ${name} is not registered in app ${this.#appName}${isMainThread ? '' : ' in this worker thread (its module was not imported: check the app\'s include list)'}`)
    return definition
  }

  /** A task's options with the app's defaults applied. */
  resolved(definition: TaskDefinition): ResolvedTaskOptions {
    let resolved = this.#resolved.get(definition)
    if (!resolved || resolved.revision !== this.#conf.revision) {
      resolved = { options: resolveTaskOptions(definition.name, definition.options, this.#conf), revision: this.#conf.revision }
      this.#resolved.set(definition, resolved)
    }
    return resolved.options
  }
}
