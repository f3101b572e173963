import { Packr, addExtension } from 'msgpackr'
import { SerializationError } from '../errors.js'
import { fromWireError, toWireError, type WireError } from './failure.js'

/** Turns values into bytes and back. One codec per content type. */
export interface Codec {
  readonly contentType: ContentType
  encode(value: unknown): Uint8Array
  decode(bytes: Uint8Array): unknown
}

export const ContentType = { Msgpack: 'application/x-msgpack', Json: 'application/json' } as const
export type ContentType = (typeof ContentType)[keyof typeof ContentType]

/** Serializer names as configured (`taskSerializer`, `resultSerializer`). */
export type SerializerName = 'msgpack' | 'json'

// Plain pack() corrupts typed arrays and turns Errors into arrays; these options keep them.
const packr = new Packr({ useRecords: false, moreTypes: true })

/** msgpack extension type of an Error in its wire form (msgpackr's own keeps only name and message). */
const ERROR_EXTENSION = 0x45
// An Error anywhere in a value (an errback's argument, a result) arrives as an Error with its
// class (celeriac's own) or RemoteError with its name, code, message, data, stack and cause.
// msgpackr's extensions are global: registered once, for every Packr in the process.
addExtension({ Class: Error, type: ERROR_EXTENSION, write: (error: Error) => toWireError(error), read: readError })

/** An Error from its extension's payload; bytes from elsewhere may hold anything there. */
function readError(wire: unknown): Error {
  for (let part = wire as Partial<WireError> | undefined, depth = 0; part !== undefined; part = part.cause, depth++) {
    if (typeof part !== 'object' || part === null || typeof part.type !== 'string' || typeof part.code !== 'string' || typeof part.message !== 'string' || depth > 8) {
      throw new SerializationError('an error in the message is not in its wire form ({ type, code, message })')
    }
  }
  return fromWireError(wire as WireError)
}

// What the codecs carry as themselves; any other object with a prototype is a class instance.
const CARRIED: readonly (abstract new (...args: never[]) => object)[] = [Map, Set, RegExp, ArrayBuffer]

/**
 * Throws a {@link SerializationError} naming the path of the first value that no codec can
 * carry faithfully, which would otherwise arrive mangled: a function, a symbol, a circular
 * reference, an instance of a class other than Object, Array, Map, Set, Date, RegExp, Error,
 * ArrayBuffer and typed arrays (it would arrive as a plain object without its class and
 * methods), unless it has a `toJSON()` (then what that returns is sent, and checked). Returns whether the value holds a Map: the one shape that may encode and then not
 * decode (msgpack writes a Map with object keys that it refuses to read back).
 */
export function assertSerializable(value: unknown, path: string): boolean {
  try {
    return check(value, path, undefined)
  } catch (error) {
    // Nested past the stack (tens of thousands of levels): no codec could walk it either.
    if (error instanceof RangeError) throw new SerializationError(`${path} is nested too deeply to be sent: ${error.message}`, { cause: error })
    throw error
  }
}

/**
 * An object whose members are being walked, the key it was reached by, and the object that
 * holds it. The chain is all a walk allocates (every send walks its arguments): it finds
 * circular references, and the path is spelled from it only when there is an error to name.
 */
interface Step {
  readonly value: object
  /** Index in an array or Set, key in an object or Map, the path itself at the root; none for a toJSON() stand-in. */
  readonly key: string | number | undefined
  readonly up: Step | undefined
}

function check(value: unknown, key: string | number | undefined, up: Step | undefined): boolean {
  switch (typeof value) {
    case 'function':
    case 'symbol':
      throw new SerializationError(`${pathOf(key, up)} is a ${typeof value} and cannot be serialized`)
    case 'object': {
      if (value === null || ArrayBuffer.isView(value) || value instanceof Date || value instanceof Error) return false
      for (let step = up; step !== undefined; step = step.up) {
        if (step.value === value) throw new SerializationError(`${pathOf(key, up)} is a circular reference and cannot be serialized`)
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null && !Array.isArray(value) && !CARRIED.some((cls) => value instanceof cls)) {
        const toJSON = (value as { toJSON?: unknown }).toJSON
        const cls = (proto as { constructor?: { name?: string } }).constructor?.name || 'an anonymous class'
        if (typeof toJSON !== 'function') {
          throw new SerializationError(`${pathOf(key, up)} is an instance of ${cls} and cannot be serialized: it would arrive as a plain object without its class and methods (send plain data, or give ${cls} a toJSON())`)
        }
        // What toJSON() returns is sent in the instance's place: same path, the instance its ancestor.
        return check(toJSON.call(value), key, { value, key: undefined, up })
      }
      const here: Step = { value, key, up }
      let hasMap = value instanceof Map
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i]
          // A primitive that can be sent needs no call: most arguments are numbers and strings.
          if (typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol') hasMap = check(item, i, here) || hasMap
        }
      } else if (value instanceof Map) value.forEach((item, k) => void check(item, String(k), here))
      else if (value instanceof Set) [...value].forEach((item, i) => void (hasMap = check(item, i, here) || hasMap))
      else {
        for (const k in value) {
          // An own key from JSON.parse: msgpackr renames it on the way (it guards against prototype pollution).
          if (k === '__proto__') throw new SerializationError(`${pathOf(k, here)} is a key named __proto__, which cannot be carried as it is (it would arrive renamed)`)
          hasMap = check((value as Record<string, unknown>)[k], k, here) || hasMap
        }
      }
      return hasMap
    }
    default:
      return false
  }
}

/** The path of the value reached by `key` from `up`, as `args[2].user.name`. */
function pathOf(key: string | number | undefined, up: Step | undefined): string {
  const keys: (string | number)[] = []
  if (key !== undefined) keys.push(key)
  for (let step = up; step !== undefined; step = step.up) if (step.key !== undefined) keys.push(step.key)
  // The outermost key is the path the caller named.
  let path = String(keys.pop())
  for (let i = keys.length - 1; i >= 0; i--) path += typeof keys[i] === 'number' ? `[${keys[i]}]` : `.${keys[i]}`
  return path
}

/**
 * msgpack, the default: binary, fast, keeps Dates, typed arrays, Sets, RegExps, BigInts (64-bit)
 * and Errors (class, name, code, message, stack, data, cause); a Map arrives as a plain object.
 */
export const msgpackCodec: Codec = {
  contentType: ContentType.Msgpack,
  encode(value) {
    try {
      return packr.pack(value)
    } catch (error) {
      throw new SerializationError(`cannot encode value as msgpack: ${(error as Error).message}`, { cause: error })
    }
  },
  decode(bytes) {
    try {
      return packr.unpack(bytes)
    } catch (error) {
      throw new SerializationError(`cannot decode msgpack bytes: ${(error as Error).message}`, { cause: error })
    }
  },
}

/**
 * msgpack-decodes the bytes from `start` to `end` of `bytes` without making a view of them: a
 * worker's main thread reads every frame's headers this way (a view is about 250 bytes).
 */
export function decodeMsgpackPart(bytes: Uint8Array, start: number, end: number): unknown {
  try {
    return packr.unpack(bytes, { start, end })
  } catch (error) {
    throw new SerializationError(`cannot decode msgpack bytes: ${(error as Error).message}`, { cause: error })
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** JSON, for interoperability: Dates become ISO strings, binary data is not supported. */
export const jsonCodec: Codec = {
  contentType: ContentType.Json,
  encode(value) {
    try {
      return encoder.encode(JSON.stringify(value ?? null))
    } catch (error) {
      throw new SerializationError(`cannot encode value as JSON: ${(error as Error).message}`, { cause: error })
    }
  },
  decode(bytes) {
    try {
      return JSON.parse(decoder.decode(bytes))
    } catch (error) {
      throw new SerializationError(`cannot decode JSON bytes: ${(error as Error).message}`, { cause: error })
    }
  },
}

/** The codec for a configured serializer name. */
export function codecByName(name: SerializerName): Codec {
  if (name === 'json') return jsonCodec
  if (name === 'msgpack') return msgpackCodec
  // A name from JavaScript or JSON (Celery's 'pickle', 'yaml'): never a silent msgpack.
  throw new SerializationError(`unknown serializer ${JSON.stringify(name)} (celeriac's serializers: msgpack, json)`)
}

/** The codec for a message's content type. */
export function codecFor(contentType: string): Codec {
  if (contentType === ContentType.Msgpack) return msgpackCodec
  if (contentType === ContentType.Json) return jsonCodec
  throw new SerializationError(`unsupported content type ${JSON.stringify(contentType)}`)
}

/**
 * The same bytes in a buffer of their own. msgpackr returns views into a shared 8 KiB slab,
 * and posting a view to a thread clones its whole buffer: copy before crossing threads.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
}
