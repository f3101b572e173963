import t from 'tap'
import { arityOf, checkArity } from '../../src/task/arity.js'
import { DEFAULTS } from '../../src/config/defaults.js'
import type { ConfigValues } from '../../src/config/defaults.js'
import { CeleriacError, ErrorCode, InvalidArgumentError, TimeoutError, TransportError } from '../../src/errors.js'
import { matchesError, resolveTaskOptions } from '../../src/task/definition.js'
import { createApp } from '../../src/index.js'
import type { Arity } from '../../src/task/arity.js'
import type { TaskDefinition } from '../../src/task/definition.js'

t.test('arity - arrow functions', async (t) => {
  t.same(arityOf(() => 0), { min: 0, max: 0 })
  t.same(arityOf((x: number) => x), { min: 1, max: 1 })
  // A single parameter without parentheses, as plain JavaScript writes it.
  t.same(arityOf(new Function('return x => x')() as (x: unknown) => unknown), { min: 1, max: 1 })
  t.same(arityOf((a: number, b: number) => a + b), { min: 2, max: 2 })
  t.same(arityOf(async (a: number, b: number) => a + b), { min: 2, max: 2 })
  t.same(arityOf(new Function('return async x => x')() as (x: unknown) => unknown), { min: 1, max: 1 })
})

t.test('arity - function expressions and declarations', async (t) => {
  function add(a: number, b: number) {
    return a + b
  }
  t.same(arityOf(add), { min: 2, max: 2 })
  t.same(arityOf(function () {}), { min: 0, max: 0 })
  t.same(arityOf(async function named(a: number) {}), { min: 1, max: 1 })
  t.same(arityOf(function* gen(a: number, b: number) {}), { min: 2, max: 2 })
})

t.test('arity - defaults make parameters optional', async (t) => {
  t.same(arityOf((a: number, b = 1) => a + b), { min: 1, max: 2 })
  t.same(arityOf((a: number, b = 1, c = { x: [1, 2] }) => a), { min: 1, max: 3 }, 'commas inside a default object')
  t.same(arityOf((a: number, b = Math.max(1, 2)) => a), { min: 1, max: 2 }, 'a call inside a default')
  t.same(arityOf((a = 1, b?: number) => a), { min: 0, max: 2 }, 'everything after a default counts as optional')
})

t.test('arity - rest parameters accept any number above the minimum', async (t) => {
  t.same(arityOf((...args: number[]) => args), { min: 0, max: Infinity })
  t.same(arityOf((a: number, ...rest: number[]) => a), { min: 1, max: Infinity })
  t.same(arityOf(async function (a: number, b: number, ...rest: number[]) {}), { min: 2, max: Infinity })
})

t.test('arity - destructured parameters count once each', async (t) => {
  t.same(arityOf(({ a, b }: { a: number; b: number }) => a + b), { min: 1, max: 1 })
  t.same(arityOf(([a, b]: number[], { c }: { c: number }) => a), { min: 2, max: 2 })
  t.same(arityOf(({ a, b }: { a: number; b: number }, [c, d]: number[] = [1, 2]) => a), { min: 1, max: 2 })
  t.same(arityOf(({ a: { b, c } }: { a: { b: number; c: number } }) => b), { min: 1, max: 1 }, 'nested destructuring')
})

t.test('arity - comments in the parameter list are ignored', async (t) => {
  const fn = new Function('return function (a /* first, really */, b // second, (too)\n) {}')() as (...args: unknown[]) => unknown
  t.same(arityOf(fn), { min: 2, max: 2 })
})

t.test('arity - class run methods', async (t) => {
  class Plain {
    run(a: number, b: number) {}
  }
  class Async {
    async run(a: number, b = 2) {}
  }
  class Rest {
    run(a: number, ...more: number[]) {}
  }
  class Destructured {
    run({ a }: { a: number }, [b]: number[]) {}
  }
  t.same(arityOf(Plain.prototype.run), { min: 2, max: 2 })
  t.same(arityOf(Async.prototype.run), { min: 1, max: 2 })
  t.same(arityOf(Rest.prototype.run), { min: 1, max: Infinity })
  t.same(arityOf(Destructured.prototype.run), { min: 2, max: 2 })
  t.same(arityOf(Plain as unknown as () => unknown), { min: 0, max: Infinity }, 'a class itself is not read')
})

t.test('arity - skip drops the bound context parameter', async (t) => {
  t.same(arityOf((ctx: unknown, a: number, b: number) => a, 1), { min: 2, max: 2 })
  t.same(arityOf((ctx: unknown, a: number, b = 1) => a, 1), { min: 1, max: 2 })
  t.same(arityOf((ctx: unknown) => 0, 1), { min: 0, max: 0 })
  t.same(arityOf((ctx: unknown, ...rest: number[]) => 0, 1), { min: 0, max: Infinity })
  t.same(arityOf(() => 0, 1), { min: 0, max: 0 }, 'never negative')
})

t.test('arity - native and bound functions accept any number above the minimum', async (t) => {
  function add(a: number, b = 1) {
    return a + b
  }
  t.same(arityOf(add.bind(null)), { min: 1, max: Infinity }, 'bound')
  t.same(arityOf(Math.max), { min: 2, max: Infinity }, 'native')
})

t.test('arity - method shorthands whose name starts with "class" are read', async (t) => {
  const tasks = {
    classify(text: string) {
      return text
    },
  }
  t.same(arityOf(tasks.classify), { min: 1, max: 1 }, 'classify(text)')
})

t.test('arity - string defaults with commas count as one parameter', async (t) => {
  t.same(arityOf((a: string, b = ',') => a + b), { min: 1, max: 2 }, "(a, b = ',')")
})

const conf: ConfigValues = { ...DEFAULTS }

t.test('task options - defaults come from the config', async (t) => {
  t.same(resolveTaskOptions('t.add', {}, conf), {
    bind: false,
    typing: true,
    maxRetries: 3,
    defaultRetryDelayMs: 180_000,
    autoretryFor: [],
    retryBackoffMs: 0,
    retryBackoffMaxMs: 600_000,
    retryJitter: true,
    rateLimitIntervalMs: 0,
    globalRateLimitIntervalMs: 0,
    timeLimitMs: undefined,
    softTimeLimitMs: undefined,
    ignoreResult: false,
    acksLate: false,
    rejectOnWorkerLost: false,
    trackStarted: false,
    expiresMs: undefined,
  })
  const custom: ConfigValues = {
    ...DEFAULTS,
    taskTyping: false,
    taskMaxRetries: null,
    taskDefaultRetryDelay: '5s',
    taskDefaultRateLimit: '10/s',
    taskTimeLimit: '1m',
    taskSoftTimeLimit: 30,
    taskIgnoreResult: true,
    taskAcksLate: true,
    taskRejectOnWorkerLost: true,
    taskTrackStarted: true,
  }
  t.match(resolveTaskOptions('t.add', {}, custom), {
    typing: false,
    maxRetries: null,
    defaultRetryDelayMs: 5000,
    rateLimitIntervalMs: 100,
    timeLimitMs: 60_000,
    softTimeLimitMs: 30_000,
    ignoreResult: true,
    acksLate: true,
    rejectOnWorkerLost: true,
    trackStarted: true,
  })
})

t.test('task options - task options win over the config, null included', async (t) => {
  const custom: ConfigValues = { ...DEFAULTS, taskDefaultRateLimit: '10/s', taskTimeLimit: 60, taskSoftTimeLimit: 30, taskAcksLate: true }
  t.match(
    resolveTaskOptions(
      't.add',
      {
        bind: true,
        typing: false,
        maxRetries: 0,
        defaultRetryDelay: '250ms',
        autoretryFor: ['Error'],
        retryBackoff: 2,
        retryBackoffMax: '1m',
        retryJitter: false,
        rateLimit: null,
        timeLimit: null,
        softTimeLimit: '1s',
        ignoreResult: true,
        acksLate: false,
        expires: '1h',
      },
      custom,
    ),
    {
      bind: true,
      typing: false,
      maxRetries: 0,
      defaultRetryDelayMs: 250,
      autoretryFor: ['Error'],
      retryBackoffMs: 2000,
      retryBackoffMaxMs: 60_000,
      retryJitter: false,
      rateLimitIntervalMs: 0,
      timeLimitMs: undefined,
      softTimeLimitMs: 1000,
      ignoreResult: true,
      acksLate: false,
      expiresMs: 3_600_000,
    },
  )
  t.equal(resolveTaskOptions('t.add', { maxRetries: null }, conf).maxRetries, null)
  t.equal(resolveTaskOptions('t.add', { retryBackoff: true }, conf).retryBackoffMs, 1000, 'true is a factor of one second')
  t.equal(resolveTaskOptions('t.add', { retryBackoff: false }, conf).retryBackoffMs, 0)
  t.equal(resolveTaskOptions('t.add', { rateLimit: '6/m' }, conf).rateLimitIntervalMs, 10_000)
})

t.test('task options - globalRateLimit takes the syntax of rateLimit and is separate from it', async (t) => {
  const resolve = (options: object) => resolveTaskOptions('t.add', options, { ...DEFAULTS, taskDefaultRateLimit: '1/s' })
  t.match(resolve({ globalRateLimit: '10/s' }), { rateLimitIntervalMs: 1000, globalRateLimitIntervalMs: 100 }, 'the per-node default still applies')
  t.equal(resolve({ globalRateLimit: '6/m' }).globalRateLimitIntervalMs, 10_000)
  t.equal(resolve({ globalRateLimit: '60/h' }).globalRateLimitIntervalMs, 60_000)
  t.equal(resolve({ globalRateLimit: 4 }).globalRateLimitIntervalMs, 250, 'a number is runs per second')
  t.equal(resolve({ globalRateLimit: null }).globalRateLimitIntervalMs, 0, 'null is none')
  t.equal(resolve({}).globalRateLimitIntervalMs, 0, 'absent is none')
  t.equal(resolve({ globalRateLimit: '0/s' }).globalRateLimitIntervalMs, 0, 'zero is none, as for rateLimit')
})

t.test('task options - a bad globalRateLimit names the field when the task is registered', async (t) => {
  const bad = (globalRateLimit: unknown, message: string) =>
    t.throws(() => resolveTaskOptions('t.add', { globalRateLimit } as object, conf), new InvalidArgumentError(message), message)
  bad('5/d', `task t.add: options.globalRateLimit must be a rate like '10/s', '10/m' or '10/h', got "5/d"`)
  bad('fast', `task t.add: options.globalRateLimit must be a rate like '10/s', '10/m' or '10/h', got "fast"`)
  bad(-1, `task t.add: options.globalRateLimit must be a non-negative number of tasks per second or a string like '10/m', got -1`)
  bad(Infinity, `task t.add: options.globalRateLimit must be a non-negative number of tasks per second or a string like '10/m', got Infinity`)
  bad({ per: 's' }, `task t.add: options.globalRateLimit must be a rate like '10/s', '10/m' or '10/h', got {"per":"s"}`)
  const app = createApp({ name: 'bad-global-limit', broker: 'memory://bad-global-limit', backend: 'memory://bad-global-limit' })
  t.throws(() => app.task('t.limited', () => 1, { globalRateLimit: '10/d' }), {
    name: 'InvalidArgumentError',
    message: `task t.limited: options.globalRateLimit must be a rate like '10/s', '10/m' or '10/h', got "10/d"`,
  }, 'app.task refuses it')
})

t.test('task options - bad values name the task and the field', async (t) => {
  const bad = (options: object, message: string) =>
    t.throws(() => resolveTaskOptions('t.add', options, conf), new InvalidArgumentError(message), message)
  bad({ maxRetries: -1 }, 'task t.add: options.maxRetries must be a non-negative integer or null, got -1')
  bad({ maxRetries: 1.5 }, 'task t.add: options.maxRetries must be a non-negative integer or null, got 1.5')
  bad({ defaultRetryDelay: -1 }, 'task t.add: options.defaultRetryDelay must be a non-negative number of seconds or a duration string, got -1')
  bad({ retryBackoff: -2 }, 'task t.add: options.retryBackoff must be a non-negative number of seconds or a duration string, got -2')
  bad({ retryBackoffMax: 'x' }, `task t.add: options.retryBackoffMax must be a non-negative number of seconds or a duration string like '10s', got "x"`)
  bad({ rateLimit: '5/d' }, `task t.add: options.rateLimit must be a rate like '10/s', '10/m' or '10/h', got "5/d"`)
  bad({ timeLimit: -1 }, 'task t.add: options.timeLimit must be a non-negative number of seconds or a duration string, got -1')
  bad({ softTimeLimit: 'soon' }, `task t.add: options.softTimeLimit must be a non-negative number of seconds or a duration string like '10s', got "soon"`)
  bad({ expires: -5 }, 'task t.add: options.expires must be a non-negative number of seconds or a duration string, got -5')
  t.throws(
    () => resolveTaskOptions('t.add', {}, { ...DEFAULTS, taskMaxRetries: -1 }),
    new InvalidArgumentError('task t.add: options.maxRetries must be a non-negative integer or null, got -1'),
    'a bad config default is reported against the task field',
  )
})

t.test('task options - resolving does not mutate its inputs', async (t) => {
  const options = Object.freeze({ maxRetries: 2, retryBackoff: true })
  const frozen = Object.freeze({ ...DEFAULTS })
  t.doesNotThrow(() => resolveTaskOptions('t.add', options, frozen))
  t.same(options, { maxRetries: 2, retryBackoff: true })
})

class NetworkError extends Error {
  override name = 'NetworkError'
}
class DnsError extends NetworkError {
  override name = 'DnsError'
}

t.test('autoretry - matches by class, subclass, name and code', async (t) => {
  t.ok(matchesError(new NetworkError('x'), [NetworkError]))
  t.ok(matchesError(new DnsError('x'), [NetworkError]), 'a subclass matches')
  t.notOk(matchesError(new NetworkError('x'), [DnsError]), 'a superclass does not')
  t.ok(matchesError(new DnsError('x'), ['DnsError']), 'by name')
  t.ok(matchesError(new TransportError('down'), [ErrorCode.Transport]), 'by code')
  t.ok(matchesError(new TransportError('down'), [CeleriacError]))
  t.ok(matchesError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), ['ETIMEDOUT', 'ECONNREFUSED']))
  t.ok(matchesError(new TypeError('x'), [RangeError, 'TypeError']), 'any matcher of the list')
  t.notOk(matchesError(new TimeoutError('late'), [TransportError, 'Error', ErrorCode.Transport]))
  t.notOk(matchesError(Object.assign(new Error('x'), { code: 7 }), ['7']), 'codes compare strictly')
})

t.test('autoretry - nothing matches an empty list or a non-error', async (t) => {
  t.notOk(matchesError(new NetworkError('x'), []))
  t.notOk(matchesError('NetworkError', ['NetworkError']))
  t.notOk(matchesError({ name: 'NetworkError', code: 'E' }, ['NetworkError', 'E']))
  t.notOk(matchesError(undefined, [Error]))
})

const definition = (name: string, arity: Arity): TaskDefinition => ({ name, options: {}, arity })

t.test('arity check - a count in range passes', async (t) => {
  t.doesNotThrow(() => checkArity(definition('t.add', { min: 2, max: 2 }), [1, 2], undefined))
  t.doesNotThrow(() => checkArity(definition('t.opt', { min: 1, max: 3 }), [1], undefined))
  t.doesNotThrow(() => checkArity(definition('t.opt', { min: 1, max: 3 }), [1, 2, 3], undefined))
  t.doesNotThrow(() => checkArity(definition('t.rest', { min: 1, max: Infinity }), new Array(50).fill(0), undefined))
  t.doesNotThrow(() => checkArity(definition('t.add', { min: 2, max: 2 }), [1], { b: 2 }), 'kwargs count as one trailing argument')
  t.doesNotThrow(() => checkArity(definition('t.add', { min: 2, max: 2 }), [1, 2], {}), 'empty kwargs do not count')
})

t.test('arity check - messages say what the task takes', async (t) => {
  const check = (arity: Arity, args: unknown[], kwargs: object | undefined, message: string) =>
    t.throws(() => checkArity(definition('t.add', arity), args, kwargs), new InvalidArgumentError(message), message)
  check({ min: 2, max: 2 }, [1], undefined, 't.add takes 2 arguments, got 1')
  check({ min: 2, max: 2 }, [1, 2, 3], undefined, 't.add takes 2 arguments, got 3')
  check({ min: 1, max: 1 }, [], undefined, 't.add takes 1 argument, got 0')
  check({ min: 0, max: 0 }, [1], undefined, 't.add takes 0 arguments, got 1')
  check({ min: 1, max: 3 }, [], undefined, 't.add takes 1 to 3 arguments, got 0')
  check({ min: 1, max: 3 }, [1, 2, 3, 4], undefined, 't.add takes 1 to 3 arguments, got 4')
  check({ min: 2, max: Infinity }, [1], undefined, 't.add takes at least 2 arguments, got 1')
  check({ min: 1, max: 1 }, [1], { b: 2 }, 't.add takes 1 argument, got 2 (kwargs count as one trailing argument)')
})

t.test('arity check - "at least 1" is singular', async (t) => {
  t.throws(() => checkArity(definition('t.add', { min: 1, max: Infinity }), [], undefined), new InvalidArgumentError('t.add takes at least 1 argument, got 0'), 'singular')
})

t.test('options - a task with options it cannot use is refused at registration, naming the option', async (t) => {
  const app = createApp({ name: 'badoptions', broker: 'memory://badoptions', backend: 'memory://badoptions' })
  const task = (options: unknown) => () => app.task(`bad.${Math.random()}`, () => 1, options as never)
  t.throws(task({ maxRetires: 0 }), { name: 'InvalidArgumentError', message: /^task bad\.\S+: options\.maxRetires: unknown option \(did you mean maxRetries\?\)$/ })
  t.throws(task({ autoretryFor: TypeError }), { message: /options\.autoretryFor must be a list of error classes, names or codes \(e\.g\. \[TypeError, 'ECONNRESET'\]\), got the class TypeError alone \(put it in a list\)$/ })
  t.throws(task({ autoretryFor: [TypeError, 42] }), { message: /options\.autoretryFor must be a list .*got 42$/ })
  t.throws(task({ priority: 11 }), { message: /options\.priority must be an integer from 0 to 9, got 11$/ })
  t.throws(task({ queue: '' }), { message: /options\.queue must be a non-empty string, got ""$/ })
  t.throws(task({ acksLate: 'yes' }), { message: /options\.acksLate must be true or false, got "yes"$/ })
  t.throws(task({ maxRetries: '3' }), { message: /options\.maxRetries must be a non-negative integer or null, got "3"$/ })
  t.doesNotThrow(task({ autoretryFor: [TypeError, 'ECONNRESET'], priority: 9, queue: 'q', acksLate: true }), 'good options register')
})
