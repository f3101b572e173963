// Type-level tests: `tsc --noEmit` (CI's type check) compiles this file, so each
// `@ts-expect-error` below must be a compile error, and each typed binding must hold.
// The runtime part checks that the same canvases are built as typed.
import t from 'tap'
import { chain, chord, createApp, group, type AsyncResult, type Canvas, type Chain, type Chord, type Group, type GroupResult, type ResultHandle, type Signature } from '../../src/index.js'

const app = createApp({ name: 'canvas-types', broker: 'memory://canvas-types', backend: 'memory://canvas-types' })
const add = app.task('ty.add', (x: number, y: number) => x + y)
const mul = app.task('ty.mul', (x: number, y: number) => x * y)
const xsum = app.task('ty.xsum', (numbers: number[]) => numbers.reduce((a, b) => a + b, 0))
const shout = app.task('ty.shout', (text: string, times: number) => text.toUpperCase().repeat(times))

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
const assertType = <T extends true>(_: T) => {}
/**
 * A canvas's type arguments (what it yields, takes from its parent, is sent with, gives) are
 * each what is expected. What it takes is compared by assignability both ways: made by
 * intersecting, it is not the identical type that Equals asks for.
 */
type Parts<C> = C extends Canvas<infer R, infer I, infer A, infer H> ? [R, I, A, H] : never
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type HasParts<C, E extends [unknown, unknown, unknown, unknown]> =
  [Equals<Parts<C>[0], E[0]>, Same<Parts<C>[1], E[1]>, Equals<Parts<C>[2], E[2]>, Equals<Parts<C>[3], E[3]>] extends [true, true, true, true] ? true : false

// Signatures: partial ones hold a suffix of the arguments; the missing ones come first.
const full = add.s(4, 4)
const partial = mul.s(8)
assertType<Equals<typeof full, Signature<number, []>>>(true)
assertType<Equals<typeof partial, Signature<number, [x: number]>>>(true)
const twice = shout.s(2)
assertType<Equals<typeof twice, Signature<string, [text: string]>>>(true)
// @ts-expect-error a string is not a suffix of (text: string, times: number)
shout.s('loud')
// @ts-expect-error too many arguments
add.s(1, 2, 3)
// Sends are typed inside functions that are never called: this file sends nothing.
// @ts-expect-error the missing argument of mul.s(8) is a number
void (() => partial.delay('8'))
const partialResult: () => Promise<AsyncResult<number>> = () => partial.delay(2)

// chain: each step must accept the previous result; the chain yields the last one's.
const typed = chain(add.s(4, 4), mul.s(8))
assertType<Equals<typeof typed, Chain<number, never, [], AsyncResult<number>>>>(true)
// A chain gives its last step's handle: an AsyncResult here, with its state and changes.
const yields: () => Promise<AsyncResult<number>> = () => typed.applyAsync()
const immutableSteps = chain(add.si(2, 2), shout.si('a', 2), add.si(8, 8))
assertType<HasParts<typeof immutableSteps, [number, unknown, [], AsyncResult<number>]>>(true)
// @ts-expect-error shout.s(2) needs a string, add yields a number
chain(add.s(4, 4), shout.s(2))
// @ts-expect-error add.s(1, 1) takes no more arguments, so it cannot take the previous result
chain(add.s(4, 4), add.s(1, 1))
const piped = add.s(4, 4).pipe(mul.s(8)).pipe(mul.s(2))
assertType<Equals<typeof piped, Chain<number, never, [], AsyncResult<number>>>>(true)
// @ts-expect-error pipe checks too
add.s(4, 4).pipe(shout.s(3))

// group: the list of its members' results; chord: the body must accept that list.
const numbers = group([add.s(1, 1), add.s(2, 2)])
assertType<Equals<typeof numbers, Group<[number, number], never>>>(true)
const grouped: () => Promise<GroupResult<[number, number]>> = () => numbers.applyAsync()
const summed = chord([add.s(1, 1), add.s(2, 2)], xsum.s())
assertType<Equals<typeof summed, Chord<number, never>>>(true)
// @ts-expect-error the body receives number[], not a string
chord([add.s(1, 1), add.s(2, 2)], shout.s(2))
const mapped = add.s(1).pipe(mul.s(3))
assertType<Equals<typeof mapped, Chain<number, number, [x: number], AsyncResult<number>>>>(true)

// Sending and calling a canvas are checked too: its first argument is what its first tasks miss.
// @ts-expect-error the chain starts with mul.s(3), which misses a number
void (() => mapped.delay('16'))
// @ts-expect-error the same for applyAsync and call
void (() => mapped.applyAsync(['16']))
// @ts-expect-error call
void (() => mapped.call('16'))
const mappedSent: () => Promise<ResultHandle<number>> = () => mapped.delay(16)
// TS consumer audit: what a chain, group or chord is sent with is what its first tasks miss, no more.
// @ts-expect-error mul.s(3) misses one number, not two
void (() => mapped.delay(16, 'x'))
// @ts-expect-error the chain starts with add.s(1), which misses one number
void (() => chain(add.s(1), mul.s(2)).delay(5, 'x'))
const twoMissing = chain(add.s(), mul.s(2))
assertType<Equals<typeof twoMissing, Chain<number, number, [x: number, y: number], AsyncResult<number>>>>(true)
const twoSent: () => Promise<AsyncResult<number>> = () => twoMissing.delay(1, 2)
// @ts-expect-error every member of a group is given the same argument: a number and a string member take none
void (() => group(add.s(1), shout.s(2)).delay(5))
// @ts-expect-error nor does a group with a member that takes no more
void (() => group(add.s(1), add.s(1, 1)).delay(5))
const common = group(add.s(1), mul.s(2))
assertType<HasParts<typeof common, [[number, number], number, [number, ...unknown[]], GroupResult<[number, number]>]>>(true)
// @ts-expect-error the same for a chord's header
void (() => chord([add.s(1), shout.s(2)], xsum.s()).delay(5))
// A chain that ends in a group gives the group's handle.
const fanOut = chain(add.s(1), group(mul.s(2), mul.s(3)))
const fanned: () => Promise<GroupResult<[number, number]>> = () => fanOut.delay(1)
// @ts-expect-error piped takes nothing more: add.s(4, 4) is whole
void (() => piped.delay(1))
// @ts-expect-error nor does a group of whole signatures
void (() => numbers.delay(1))
// @ts-expect-error a partial signature's applyAsync is checked as its delay is
void (() => partial.applyAsync(['4']))
const partialKwargs: () => Promise<AsyncResult<number>> = () => mul.s().applyAsync([], { kwargs: { x: 1, y: 2 } })
// @ts-expect-error bind: true on a function without the context (it would get the context as its first argument)
app.task('ty.unbound', (x: number) => x * 2, { bind: true })

t.test('the typed canvases are the canvases built', async (t) => {
  t.same(typed.toJSON().tasks.map((s) => s.subtaskType ?? (s as { task: string }).task), ['ty.add', 'ty.mul'])
  t.same(summed.toJSON().header.length, 2)
  t.equal(piped.tasks.length, 3)
  t.same([partialResult, yields, grouped, mappedSent, partialKwargs, twoSent, fanned].map((f) => typeof f), ['function', 'function', 'function', 'function', 'function', 'function', 'function'])
  await app.close()
})

t.test('args that are not an array: a clear error, not a TypeError from inside', async (t) => {
  const options = { countdown: 1 } as unknown as never
  await t.rejects(chain(add.s(1, 1), mul.s(2)).applyAsync(options), { name: 'InvalidArgumentError', message: 'applyAsync(args, options): args must be an array, got Object' })
  await t.rejects(add.s(1, 1).applyAsync(options), { name: 'InvalidArgumentError', message: /args must be an array/ })
})
