// bindArguments and parameterNames (task/arity.ts): how kwargs meet a task's parameters (issue 18).
import t from 'tap'
import { InvalidArgumentError } from '../../src/errors.js'
import { arityOf, bindArguments, parameterNames, type ArityOf } from '../../src/task/arity.js'
import { createApp } from '../../src/index.js'

const task = (fn: (...args: any[]) => unknown, options: { bind?: boolean; params?: readonly string[] } = {}): ArityOf => ({ name: 't.x', fn, options, arity: arityOf(fn, options.bind ? 1 : 0) })

t.test('parameterNames - plain names, with or without defaults, in every function form', async (t) => {
  t.same(parameterNames(task((x: number, y: number) => x + y)), ['x', 'y'])
  t.same(parameterNames(task(async (x: number, y = 2, label = 'a, b') => x)), ['x', 'y', 'label'])
  t.same(parameterNames(task(new Function('return x => x')() as (x: unknown) => unknown)), ['x'])
  t.same(parameterNames(task(function named($a: number, _b = { c: [1, 2] }) {})), ['$a', '_b'])
  t.same(parameterNames(task((ctx: unknown, x: number) => x, { bind: true })), ['x'], 'the bound context is not a parameter')
  class Run {
    run(first: number, second = 1) {}
  }
  t.same(parameterNames({ name: 't.cls', arity: { min: 1, max: 2 }, cls: Run as never }), ['first', 'second'])
})

t.test('parameterNames - refused: destructuring, rest parameters, unreadable code', async (t) => {
  t.equal(parameterNames(task(({ x, y }: { x: number; y: number }) => x + y)), undefined)
  t.equal(parameterNames(task((a: number, [b]: number[]) => a + b)), undefined)
  t.equal(parameterNames(task((a: number, ...rest: number[]) => a)), undefined)
  t.equal(parameterNames(task(Math.max)), undefined, 'native code')
  t.equal(parameterNames(task(((x: number) => x).bind(null))), undefined, 'a bound function')
})

t.test('bindArguments - by name, mixed, defaults left undefined, declared params win', async (t) => {
  const add = task((x: number, y: number) => x + y)
  t.same(bindArguments(add, [], { x: 1, y: 2 }), [1, 2])
  t.same(bindArguments(add, [], { y: 2, x: 1 }), [1, 2])
  t.same(bindArguments(add, [1], { y: 2 }), [1, 2])
  t.same(bindArguments(task((a: number, b = 1, c = 2) => a), [1], { c: 3 }), [1, undefined, 3], 'b left undefined: its default applies')
  t.same(bindArguments(task(({ w }: { w: number }, scale = 1) => w, { params: ['box', 'scale'] }), [], { box: { w: 1 } }), [{ w: 1 }])
  t.same(bindArguments(task((x: number, options: object = {}) => x), [1], { verbose: true }), [1, { verbose: true }], 'an options object')
  const args = [1, 2]
  t.equal(bindArguments(add, args, {}), args, 'no kwargs: the same array')
})

t.test('bindArguments - the errors name the parameter', async (t) => {
  const add = task((x: number, y: number) => x + y)
  const refused = (args: unknown[], kwargs: Record<string, unknown>, message: string) => t.same(bindArguments(add, args, kwargs), new InvalidArgumentError(message), message)
  refused([1], { x: 2 }, "t.x got multiple values for argument 'x'")
  refused([1, 2], { z: 3 }, "t.x got an unexpected keyword argument 'z'")
  refused([], { y: 1 }, "t.x missing required argument 'x'")
  refused([1, 2, 3], { y: 1 }, "t.x got multiple values for argument 'y'")
  refused([1, 2, 3], {}, 't.x takes 2 arguments, got 3')
  t.same(bindArguments(task((...n: number[]) => n, {}), [1], { z: 1 }), [1, { z: 1 }], 'unreadable names: one trailing object')
})

t.test('bindArguments - without typing, nothing is refused', async (t) => {
  const add = task((x: number, y: number) => x + y)
  t.same(bindArguments(add, [1], { x: 2 }, false), [1, { x: 2 }])
  t.same(bindArguments(add, [], { y: 2 }, false), [undefined, 2])
  t.same(bindArguments(add, [1, 2, 3], { z: 1 }, false), [1, 2, 3, { z: 1 }])
})

t.test('params option - checked when the task is registered', async (t) => {
  const app = createApp({ name: 'kwargs-binding-unit' })
  t.throws(() => app.task('t.twice', (x: number) => x, { params: ['x', 'x'] }), new InvalidArgumentError("task t.twice: options.params names 'x' twice"))
  t.throws(() => app.task('t.bad', (x: number) => x, { params: ['1x'] }), new InvalidArgumentError('task t.bad: options.params must be a list of parameter names, got "1x"'))
  t.throws(() => app.task('t.str', (x: number) => x, { params: 'x' as never }), new InvalidArgumentError('task t.str: options.params must be a list of parameter names, got "x"'))
  await app.close()
})
