import t from 'tap'
import {
  createApp, InvalidArgumentError, MaxRetriesExceeded, Reject, SoftTimeLimitExceeded, TaskIgnoredError, TaskRejectedError, Ignore,
  type TaskContext, type TaskRequest,
} from '../../src/index.js'
import { runEager } from '../../src/task/eager.js'
import { runnableTask, runTask, type RunOutcome, type RunPort } from '../../src/task/run-task.js'
import { SimulatedClock } from '../../src/util/clock.js'
import type { StateUpdate } from '../../src/task/context.js'

const app = createApp({ name: 'run-task-unit', config: { taskDefaultRetryDelay: 3600 } })

class TransientError extends Error {
  override name = 'TransientError'
}

/** The definition and resolved options of a registered task, as runEager takes them. */
function registered(name: string) {
  const definition = app.tasks.get(name)!
  return { definition, resolved: app.resolvedOptions(definition) }
}

t.test('eager - a retrying task runs again at once up to maxRetries, then fails with the retry\'s exc (Celery re-raises it; issue 18)', async (t) => {
  const seen: string[] = []
  let id = ''
  const hopeless = app.task('u.hopeless', (ctx: TaskContext) => {
    id = ctx.request.id
    seen.push(`run ${ctx.request.retries}`)
    // A countdown of an hour: eager mode ignores it, or this test times out.
    return ctx.retry({ countdown: 3600, exc: new TransientError(`try ${ctx.request.retries + 1} failed`) })
  }, {
    bind: true,
    maxRetries: 2,
    onRetry: (error, request) => void seen.push(`onRetry ${request.retries} ${(error as Error).message}`),
    onFailure: (error, request) => void seen.push(`onFailure ${request.retries} ${(error as Error).name}`),
    afterReturn: (state) => void seen.push(`afterReturn ${state}`),
  })
  const error = (await hopeless.call().then(() => undefined, (e: unknown) => e)) as TransientError
  t.type(error, TransientError)
  t.equal(error.message, 'try 3 failed')
  t.ok(id)
  t.same(seen, [
    'run 0', 'onRetry 0 try 1 failed', 'afterReturn RETRY',
    'run 1', 'onRetry 1 try 2 failed', 'afterReturn RETRY',
    'run 2', 'onFailure 2 TransientError', 'afterReturn FAILURE',
  ])
  const plain = app.task('u.hopelessPlain', (ctx: TaskContext) => ctx.retry({ countdown: 3600 }), { bind: true, maxRetries: 1 })
  const gaveUp = (await plain.call().then(() => undefined, (e: unknown) => e)) as MaxRetriesExceeded
  t.type(gaveUp, MaxRetriesExceeded, 'a retry without exc gives MaxRetriesExceeded')
  t.match(gaveUp.message, /^u\.hopelessPlain\[.+\] gave up after 1 retries \(maxRetries 1\)$/)
})

t.test('eager - a retry that succeeds later resolves to the last run\'s result', async (t) => {
  const flaky = app.task('u.flaky', (ctx: TaskContext, failures: number) => {
    if (ctx.request.retries < failures) ctx.retry({ countdown: 3600 })
    return `done after ${ctx.request.retries} retries`
  }, { bind: true, maxRetries: 5 })
  t.equal(await flaky.call(3), 'done after 3 retries')
})

t.test('eager - autoretryFor retries at once, ignoring the backoff, and counts against maxRetries', async (t) => {
  const retries: number[] = []
  const auto = app.task('u.auto', (ctx: TaskContext, failures: number) => {
    retries.push(ctx.request.retries)
    if (ctx.request.retries < failures) throw new TransientError('flaky dependency')
    return ctx.request.retries
  }, { bind: true, autoretryFor: [TransientError], retryBackoff: 3600, maxRetries: 3 })
  t.equal(await auto.call(2), 2)
  t.same(retries, [0, 1, 2])
  retries.length = 0
  // Retries used up: the error autoretryFor caught is the failure, as Celery re-raises it (issue 18).
  await t.rejects(auto.call(10), new TransientError('flaky dependency'))
  t.same(retries, [0, 1, 2, 3])
  const other = app.task('u.autoOther', () => {
    throw new TypeError('not listed')
  }, { autoretryFor: [TransientError] })
  await t.rejects(other.call(), new TypeError('not listed'), 'an error not listed fails at once')
})

t.test('eager - updateState is validated, then delivered to the listener', async (t) => {
  const progress = app.task('u.progress', (ctx: TaskContext, steps: number) => {
    for (let i = 1; i <= steps; i++) ctx.updateState({ state: 'PROGRESS', meta: { current: i, total: steps } })
    ctx.updateState({ state: 'ALMOST' })
    return 'finished'
  }, { bind: true })
  const updates: [StateUpdate, TaskRequest][] = []
  const { definition, resolved } = registered(progress.name)
  t.equal(await runEager(definition, resolved, [2], undefined, { taskId: 'progress-1', onUpdate: (update, request) => updates.push([update, request]) }), 'finished')
  t.same(updates.map(([update]) => update), [
    { state: 'PROGRESS', meta: { current: 1, total: 2 } },
    { state: 'PROGRESS', meta: { current: 2, total: 2 } },
    { state: 'ALMOST' },
  ])
  t.ok(updates.every(([, request]) => request.id === 'progress-1' && request.isEager))
  t.equal(await progress.call(1), 'finished', 'without a listener the updates go nowhere')

  const builtIn = app.task('u.builtInState', (ctx: TaskContext) => ctx.updateState({ state: 'SUCCESS' }), { bind: true })
  await t.rejects(builtIn.call(), new InvalidArgumentError(`updateState: state must be a custom state name such as 'PROGRESS', got "SUCCESS"`))
  const badMeta = app.task('u.badMeta', (ctx: TaskContext) => ctx.updateState({ state: 'PROGRESS', meta: { fn: () => 1 } }), { bind: true })
  await t.rejects(badMeta.call(), { name: 'SerializationError', message: 'updateState meta.fn is a function and cannot be serialized' })
})

t.test('eager - the soft time limit aborts the task\'s signal, on the clock given', async (t) => {
  const softie = app.task('u.softie', (ctx: TaskContext) => new Promise((resolve) => {
    ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason))
  }), { bind: true, softTimeLimit: 2 })
  const clock = new SimulatedClock(0)
  const { definition, resolved } = registered(softie.name)
  const running = runEager(definition, resolved, [], undefined, { clock, taskId: 'softie-1' })
  t.equal(clock.pending, 1, 'the limit is armed on the clock')
  clock.advance(1999)
  clock.advance(1)
  const reason = await running
  t.type(reason, SoftTimeLimitExceeded)
  t.equal((reason as Error).message, 'soft time limit (2s) exceeded by u.softie[softie-1]')
  t.equal(clock.pending, 0)

  const quick = app.task('u.quick', (x: number) => x * 2, { softTimeLimit: 2 })
  const q = registered(quick.name)
  t.equal(await runEager(q.definition, q.resolved, [21], undefined, { clock }), 42)
  t.equal(clock.pending, 0, 'a run that ends first clears its timer')
})

t.test('eager - a soft limit that passes a task which never looked at its signal says so, once per task (Celery audit)', async (t) => {
  const deaf = app.task('u.deaf', async (ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms))
    return 'ran to the end'
  }, { softTimeLimit: 0.01 })
  const warnings: string[] = []
  const logger = { debug() {}, info() {}, warn: (message: string) => void warnings.push(message), error() {} }
  const { definition, resolved } = registered(deaf.name)
  t.equal(await runEager(definition, resolved, [60], undefined, { logger }), 'ran to the end', 'JavaScript cannot throw into it: it runs on')
  t.same(warnings, ['task u.deaf ran past its soft time limit (0.01 s) without looking at its signal, so the limit could not reach it: read ctx.signal (bind: true; this.signal in a class task) to stop at the limit, or give it a hard timeLimit'])
  await runEager(definition, resolved, [60], undefined, { logger })
  t.equal(warnings.length, 1, 'once per task')
})

t.test('eager - the arguments are checked unless typing is off; kwargs bind by parameter name (issue 18), else are one trailing argument', async (t) => {
  let runs = 0
  const pair = app.task('u.pair', (a: number, b: number) => {
    runs++
    return [a, b]
  }, { autoretryFor: [Error] })
  await t.rejects(pair.call(...([1] as unknown as [number, number])), new InvalidArgumentError('u.pair takes 2 arguments, got 1'))
  t.equal(runs, 0, 'not run, and not retried though autoretryFor lists Error')
  const { definition, resolved } = registered(pair.name)
  t.same(await runEager(definition, resolved, [1], { b: 2 }), [1, 2], 'b binds to its parameter')
  await t.rejects(runEager(definition, resolved, [1, 2], { c: 3 }), new InvalidArgumentError("u.pair got an unexpected keyword argument 'c'"))
  const withOptions = app.task('u.withOptions', (a: number, options: { verbose?: boolean }) => [a, options])
  const w = registered(withOptions.name)
  t.same(await runEager(w.definition, w.resolved, [1], { verbose: true }), [1, { verbose: true }], 'keys that name no parameter: one trailing object, as before')
  const loose = app.task('u.loose', (a: number, b: number) => [a, b ?? 'missing'], { typing: false })
  t.same(await loose.call(...([1] as unknown as [number, number])), [1, 'missing'])
})

t.test('eager - Reject and Ignore end the call as a worker\'s result would', async (t) => {
  const rejecter = app.task('u.reject', () => {
    throw new Reject('not for us')
  })
  await t.rejects(rejecter.call(), new TaskRejectedError('not for us'))
  const ignorer = app.task('u.ignore', () => {
    throw new Ignore()
  })
  const { definition, resolved } = registered(ignorer.name)
  await t.rejects(runEager(definition, resolved, [], undefined, { taskId: 'ignored-1' }), new TaskIgnoredError('task ignored-1 ended IGNORED without a result'))
})

t.test('eager - a handler that throws is logged and changes nothing', async (t) => {
  const logged: string[] = []
  const grumpy = app.task('u.grumpy', (x: number) => x + 1, {
    onSuccess: () => {
      throw new Error('handler broke')
    },
  })
  const { definition, resolved } = registered(grumpy.name)
  const logger = { error: (message: string, fields?: Record<string, unknown>) => void logged.push(`${message}: ${(fields?.error as Error).message}`) }
  t.equal(await runEager(definition, resolved, [1], undefined, { logger, taskId: 'grumpy-1' }), 2)
  t.same(logged, ['handler of u.grumpy[grumpy-1] failed: handler broke'])
})

t.test("eager - ctx.logger writes to the app's logger with the task's id and name", async (t) => {
  const lines: [string, string, Record<string, unknown> | undefined][] = []
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push([level, message, fields])
  const logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
  const chatty = app.task('u.chatty', (ctx: TaskContext, x: number) => {
    ctx.logger.info('working', { x })
    return x
  }, { bind: true })
  const { definition, resolved } = registered(chatty.name)
  t.equal(await runEager(definition, resolved, [7], undefined, { logger, taskId: 'chatty-1' }), 7)
  t.same(lines, [['info', 'working', { id: 'chatty-1', task: 'u.chatty', x: 7 }]])
})

t.test('eager - a class task is built once and its methods are its handlers', async (t) => {
  const seen: string[] = []
  let builds = 0
  const { Task } = await import('../../src/index.js')
  const counter = app.task('u.counter', class extends Task<[number], number> {
    calls = 0
    constructor() {
      super()
      builds++
    }
    run(step: number) {
      this.calls += step
      return this.calls
    }
    override onSuccess(result: number, request: TaskRequest) {
      seen.push(`${this.name} ${request.isEager} ${result}`)
    }
  })
  t.equal(await counter.call(1), 1)
  t.equal(await counter.call(2), 3)
  t.equal(builds, 1)
  t.same(seen, ['u.counter true 1', 'u.counter true 3'])
})

/** A port recording what the runner reports. */
function recordingPort() {
  const settled: RunOutcome[] = []
  const port: RunPort<string> = {
    clock: new SimulatedClock(0),
    settle: (_tag, outcome) => void settled.push(outcome),
    update: () => {},
    handlerFailed: () => {},
  }
  return { port, settled }
}

const request = (task: string, retries = 0): TaskRequest => ({
  id: 'r-1', task, args: [], kwargs: {}, retries, hostname: 'h', rootId: 'r-1', headers: {}, isEager: false,
  deliveryInfo: { exchange: '', routingKey: '', queue: '', priority: 0, redelivered: false },
})

t.test('runner - a synchronous task without handlers settles before runTask returns', async (t) => {
  const { port, settled } = recordingPort()
  const { definition, resolved } = registered(app.task('u.sync', (a: number, b: number) => a + b).name)
  runTask(port, runnableTask(definition, resolved), request('u.sync'), 'tag', [2, 3], null)
  t.equal(settled.length, 1, 'settled synchronously')
  t.equal(settled[0].kind, 'success')
  t.equal(settled[0].kind === 'success' && settled[0].result, 5)
})

t.test('runner - a retry carries its delay: countdown, eta on the clock, backoff, default delay', async (t) => {
  const { port, settled } = recordingPort()
  const clock = port.clock as SimulatedClock
  clock.advance(10_000)
  const delays = app.task('u.delays', (ctx: TaskContext, how: string) => {
    if (how === 'countdown') ctx.retry({ countdown: '1.5s' })
    if (how === 'eta') ctx.retry({ eta: new Date(12_500) })
    if (how === 'plain') ctx.retry()
    throw new TransientError('auto')
  }, { bind: true, autoretryFor: [TransientError], retryBackoff: 2, retryJitter: false, maxRetries: 10 })
  const { definition, resolved } = registered(delays.name)
  const task = runnableTask(definition, resolved)
  for (const how of ['countdown', 'eta', 'plain']) runTask(port, task, request('u.delays'), '', [how], null)
  runTask(port, task, request('u.delays', 3), '', ['auto'], null)
  const plain = registered(app.task('u.plain', (ctx: TaskContext) => ctx.retry(), { bind: true }).name)
  runTask(port, runnableTask(plain.definition, plain.resolved), request('u.plain'), '', [], null)
  // 2 s backoff: 2 s on the first try, 2 * 2^3 s on the fourth; without backoff, the default delay.
  t.same(settled.map((o) => o.kind === 'retry' && o.delayMs), [1500, 2500, 2000, 16_000, 3_600_000])
  t.equal(settled[3].kind === 'retry' && (settled[3].exc as Error).message, 'auto')
})
