import { codecFor } from '../serialization/codec.js'

/** Longest repr an event carries, as Celery's `argsrepr_maxsize`. */
export const REPR_MAX = 1024

/**
 * A value as short JSON text for an event: bigints as numbers, binary as its length, cut at
 * {@link REPR_MAX} characters with `...`. Never throws: what cannot be shown says so.
 */
export function repr(value: unknown, max = REPR_MAX): string {
  let text: string
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? `<${v.byteLength} bytes>` : v)) ?? 'undefined'
  } catch (error) {
    text = `<unshowable: ${(error as Error).message}>`
  }
  return text.length > max ? text.slice(0, max - 3) + '...' : text
}

/** Decodes encoded bytes for a repr; `undefined` when they do not decode. */
export function decodeForRepr(bytes: Uint8Array, contentType: string | undefined): unknown {
  try {
    return codecFor(contentType ?? 'application/x-msgpack').decode(bytes)
  } catch {
    return undefined
  }
}
