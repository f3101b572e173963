// Type-level tests of what crosses the wire (issue 18): `tsc --noEmit -p tsconfig.json` (CI's
// type check) compiles this file, so each `@ts-expect-error` below must be a compile error and
// each typed binding must hold. The runtime part checks that what the types refuse is refused
// at send time too.
import t from 'tap'
import { createApp, SerializationError, signature, Task, type AsyncResult, type Serializable, type SerializableValue, type TaskContext } from '../../src/index.js'

const app = createApp({ name: 'serializable-types', broker: 'memory://serializable-types', backend: 'memory://serializable-types' })

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
const assertType = <T extends true>(_: T) => {}

interface Order {
  id: string
  placedAt: Date
  lines: { sku: string; qty: number }[]
  tags?: Set<string>
  note?: string
}
class Client {
  url = 'nats://localhost'
  connect(): void {}
}

// Data crosses: primitives, bigint, Date, typed arrays, Sets, interfaces and nested objects.
const add = app.task('ty.add', (x: number, y: number) => x + y)
const place = app.task('ty.place', async (order: Order, at: Date, bytes: Uint8Array, big: bigint) => ({ ...order, at, size: bytes.length, big }))
const bound = app.task('ty.bound', (ctx: TaskContext, order: Order) => ({ id: order.id, retries: ctx.request.retries }), { bind: true })
const nothing = app.task('ty.nothing', () => {})
const loose = app.task('ty.loose', (value: unknown) => value)

// kwargs bind by name, so with them the leading arguments (or none) are enough (README's example).
void (() => add.applyAsync([], { kwargs: { x: 1, y: 2 } }))
void (() => add.applyAsync([1], { kwargs: { y: 2 } }))
// @ts-expect-error without kwargs the arguments are all there
void (() => add.applyAsync([1]))
// @ts-expect-error a leading argument of the wrong type is still refused
void (() => add.applyAsync(['1'], { kwargs: { y: 2 } }))
class Checkout extends Task<[Order], string> {
  run(order: Order) {
    return order.id
  }
}
const checkout = app.task('ty.checkout', Checkout)
void [bound, nothing, loose, checkout]

// The handle's types follow: delay takes the task's arguments, get() gives its result.
void (() => add.delay(1, 2))
void (async () => {
  const result: AsyncResult<number> = await add.delay(1, 2)
  const placed = await (await place.delay({ id: 'o1', placedAt: new Date(), lines: [] }, new Date(), new Uint8Array(1), 1n)).get()
  assertType<Equals<typeof placed.at, Date>>(true)
  void result
})
// @ts-expect-error delay takes the task's argument types
void (() => add.delay('1', 2))

// What does not cross the wire is a compile error: functions, class instances with methods,
// symbols, Maps (they arrive as plain objects), in arguments or in results.
// @ts-expect-error a class instance with methods as an argument
app.task('ty.client', (client: Client) => client.url)
// @ts-expect-error a function as an argument
app.task('ty.callback', (done: () => void) => done())
// @ts-expect-error a function nested in an argument
app.task('ty.nested', (options: { onDone: (x: number) => void }) => 1)
// @ts-expect-error a symbol
app.task('ty.symbol', (key: symbol) => String(key))
// @ts-expect-error a Map arrives as a plain object: not Serializable
app.task('ty.map', (counts: Map<string, number>) => counts.size)
// @ts-expect-error a function as the result
app.task('ty.returnsFn', () => () => 1)
// @ts-expect-error a class instance as the (awaited) result
app.task('ty.returnsClient', async () => new Client())
// @ts-expect-error the bound form is checked too
app.task('ty.boundClient', (ctx: TaskContext, client: Client) => client.url, { bind: true })
class Leaky extends Task<[Client], number> {
  run(client: Client) {
    return client.url.length
  }
}
// @ts-expect-error and a class task's run arguments
app.task('ty.leaky', Leaky)

// Sends by name check what they can infer: sendTask's args, signature()'s args and kwargs.
const order: Order = { id: 'o1', placedAt: new Date(), lines: [] }
void (() => app.sendTask('ty.place', [order, new Date(), new Uint8Array(1), 1n]))
void signature('ty.place', { args: [order], kwargs: { note: 'x', at: new Date() } })
void app.signature('ty.add', { kwargs: { x: 1, y: 2 } })
// @ts-expect-error a class instance with methods in sendTask's args
void (() => app.sendTask('ty.echo', [new Client()]))
// @ts-expect-error a function in signature()'s args
void signature('ty.echo', { args: [() => 1] })
// @ts-expect-error a class instance with methods in app.signature()'s kwargs
void app.signature('ty.echo', { kwargs: { client: new Client() } })

// Serializable<T> is T when T crosses, and not T otherwise; SerializableValue annotates data.
assertType<Equals<Serializable<Order>, { id: string; placedAt: Date; lines: { sku: string; qty: number }[]; tags?: ReadonlySet<string>; note?: string }>>(true)
assertType<Equals<Serializable<[number, string]>, [number, string]>>(true)
assertType<Equals<Serializable<unknown>, unknown>>(true)
const payload: SerializableValue = { at: new Date(), list: [1, 'two', null], tags: new Set(['a']), nested: { big: 10n } }
// @ts-expect-error a function is not a SerializableValue
const notPayload: SerializableValue = { fn: () => 1 }
void [payload, notPayload]

t.test('types - what the types refuse is refused at send time too', async (t) => {
  const client = app.task('ty.rt', ((value: unknown) => value) as (value: unknown) => unknown)
  await t.rejects(client.delay({ client: new Client() }), new SerializationError('ty.rt args[0].client is an instance of Client and cannot be serialized: it would arrive as a plain object without its class and methods (send plain data, or give Client a toJSON())'))
  await t.rejects(client.delay(() => 1), new SerializationError('ty.rt args[0] is a function and cannot be serialized'))
  await app.close()
})
