/**
 * What crosses the wire, as types: task arguments and results must be data that the codec
 * carries unchanged, so that the type a task declares is the type it receives. The run-time
 * side of the same rule is `assertSerializable` (codec.ts), checked at send and store time.
 * @module
 */

/** Values the codec carries as they are. */
export type Primitive = string | number | boolean | bigint | null | undefined | void
/** Objects the default codec (msgpack) carries as themselves. */
export type Carried = Date | Error | RegExp | ArrayBuffer | ArrayBufferView

/**
 * A value that crosses the wire unchanged, for annotations (`const payload: SerializableValue`):
 * primitives (bigint within 64 bits), Date, Error, RegExp, typed arrays, ArrayBuffer, arrays,
 * Sets and plain objects of these. A Map is not one: it arrives as a plain object. TypeScript
 * gives an interface no index signature, so an interface-typed value does not match this
 * union: check such types with {@link Serializable} instead, as `app.task()` does.
 */
export type SerializableValue =
  | Primitive
  | Carried
  | readonly SerializableValue[]
  | ReadonlySet<SerializableValue>
  | { readonly [key: string]: SerializableValue }

/**
 * `T` itself when every part of it crosses the wire unchanged; otherwise `T` with `never` where
 * a part does not (a function, a method, a symbol, a Map), so that `T` is not assignable to it.
 * `unknown` and `any` pass unchecked. Types are structural: a class with fields only passes
 * (its instance would be refused at run time; send object literals, or give it a `toJSON()`).
 * @example
 * function send<T>(value: T & Serializable<T>) {}
 * send({ at: new Date(), tags: new Set(['a']) }) // ok
 * send({ client: new Client() })                 // compile error: Client has methods
 */
export type Serializable<T> = unknown extends T
  ? T
  : T extends Primitive | Carried
    ? T
    : T extends ((...args: never[]) => unknown) | symbol | ReadonlyMap<unknown, unknown>
      ? never
      : T extends ReadonlySet<infer E>
        ? ReadonlySet<Serializable<E>>
        : T extends object
          ? { [K in keyof T]: Serializable<T[K]> }
          : never

/** Names what a task signature got wrong, in the compiler's message. */
export interface NotSerializable<Part extends string, T> {
  readonly 'task arguments and results must be Serializable (see Serializable in celeriac)': { readonly [P in Part]: T }
}

/**
 * `unknown` (no constraint) when a task's arguments `A` and result `R` (awaited) are
 * {@link Serializable}, else a {@link NotSerializable} naming the part: intersected with the
 * task's function type in `app.task()`, it makes a task that takes or returns what cannot
 * cross the wire a compile error.
 */
export type SerializableCall<A extends readonly unknown[], R> = [A] extends [Serializable<A>]
  ? [Awaited<R>] extends [Serializable<Awaited<R>>]
    ? unknown
    : NotSerializable<'result', Awaited<R>>
  : NotSerializable<'arguments', A>
