import type { ConfigValues, QueueConfig, RouteTarget, TaskRoutes } from '../config/defaults.js'

/** Where a message goes: an exchange and a routing key; `queue` when it targets one queue. */
export interface Route {
  exchange: string
  routingKey: string
  /** The queue, when routed through the default exchange (declared on first use). */
  queue?: string
  priority?: number
}

/** Routing options of a call or a task. */
export interface RoutingOptions {
  queue?: string
  exchange?: string
  routingKey?: string
  priority?: number
}

type Matcher = (name: string) => boolean

const NO_DEFAULTS: RoutingOptions = {}

/** Celery's (fnmatch) globs: `*` any run of characters, dots included; `?` exactly one. */
function globToRegExp(glob: string): RegExp {
  const literal = (part: string) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  return new RegExp('^' + glob.split('*').map((run) => run.split('?').map(literal).join('.')).join('.*') + '$', 's')
}

function compileRoutes(routes: TaskRoutes): [Matcher, RouteTarget][] {
  const pairs: ReadonlyArray<readonly [string | RegExp, RouteTarget | string]> = Array.isArray(routes) ? routes : Object.entries(routes)
  return pairs.map(([pattern, given]) => {
    // Celery's task_routes take a queue name for `{ queue: name }`.
    const target = typeof given === 'string' ? { queue: given } : given
    if (pattern instanceof RegExp) return [(name: string) => pattern.test(name), target]
    if (pattern.includes('*') || pattern.includes('?')) {
      const regexp = globToRegExp(pattern)
      return [(name: string) => regexp.test(name), target]
    }
    return [(name: string) => name === pattern, target]
  })
}

/**
 * Resolves a task call to an exchange and routing key, Celery's order: the call's own
 * `queue`/`exchange`, then `taskRoutes` (first match wins), then the task's options, then the
 * default queue. The call's `routingKey` and `priority` win over those of whichever of these
 * applies, field by field, as Celery merges a call's options over its route. Results are
 * cached per task name for calls without routing options.
 */
export class Router {
  readonly #routes: [Matcher, RouteTarget][]
  readonly #queues: Map<string, QueueConfig>
  readonly #conf: ConfigValues
  readonly #cache = new Map<string, { route: Route; defaults: RoutingOptions }>()

  constructor(conf: ConfigValues) {
    this.#conf = conf
    this.#routes = compileRoutes(conf.taskRoutes)
    this.#queues = new Map(conf.taskQueues.map((q) => [q.name, q]))
  }

  route(task: string, call: RoutingOptions, taskDefaults: RoutingOptions = NO_DEFAULTS): Route {
    const plain = call.queue === undefined && call.exchange === undefined && call.routingKey === undefined
    let route: Route | undefined
    if (plain) {
      const cached = this.#cache.get(task)
      // A task sent by name before it was registered was routed without its defaults.
      if (cached && cached.defaults === taskDefaults) route = cached.route
    }
    if (!route) {
      route = this.#resolve(task, call, taskDefaults)
      if (plain) this.#cache.set(task, { route, defaults: taskDefaults })
    }
    // The call's priority wins over its route's, which wins over the task's default.
    const priority = call.priority ?? route.priority ?? taskDefaults.priority
    return priority === route.priority ? route : { ...route, priority }
  }

  #resolve(task: string, call: RoutingOptions, taskDefaults: RoutingOptions): Route {
    // The call's own queue or exchange names the destination outright, routing key included.
    if (call.queue !== undefined || call.exchange !== undefined) return this.#target(call)
    const matched = this.#routes.find(([matches]) => matches(task))
    const destination = matched ? matched[1]
      : taskDefaults.queue !== undefined || taskDefaults.exchange !== undefined ? taskDefaults
      : { queue: this.#conf.taskDefaultQueue }
    // A routing key given alone replaces the destination's (a queue on the default exchange
    // is reached by its name, whatever the key).
    return this.#target(call.routingKey === undefined ? destination : { ...destination, routingKey: call.routingKey })
  }

  #target(target: RoutingOptions): Route {
    const priority = target.priority === undefined ? {} : { priority: target.priority }
    if (target.exchange !== undefined && target.exchange !== '') {
      return { exchange: target.exchange, routingKey: target.routingKey ?? target.queue ?? '', ...priority }
    }
    const queue = target.queue ?? target.routingKey ?? this.#conf.taskDefaultQueue
    const declared = this.#queues.get(queue)
    if (declared?.exchange) return { exchange: declared.exchange, routingKey: target.routingKey ?? declared.routingKey ?? queue, ...priority }
    return { exchange: '', routingKey: queue, queue, ...priority }
  }
}
