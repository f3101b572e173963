/**
 * Task ids as NATS KV keys and subject tokens: the id itself when it is safe, otherwise a
 * reversible encoding. Shared by the `nats://` and `rpc://` result backends.
 * @module
 */

// A KV key is a subject: dot-separated tokens of `[-/=\w]` (`@nats-io/kv` validateKey), with no
// empty token (`a..b` is not a valid subject although validateKey lets it through).
const SAFE_KEY = /^[-/=\w]+(?:\.[-/=\w]+)*$/

/**
 * Marks an encoded key. Ids that start with it are encoded too, so that no raw id can be
 * mistaken for an encoded one: the mapping stays one-to-one.
 */
const ENCODED_MARK = '='

/**
 * The KV key (or subject tail) for a task id: the id itself when it is a valid key (UUIDs and
 * the like), else `=` followed by the base64url of its UTF-8 bytes, which uses only key-safe
 * characters.
 * @example
 * taskKey('4f1c...e2') // '4f1c...e2'
 * taskKey('user 7:job') // '=dXNlciA3OmpvYg'
 */
export function taskKey(taskId: string): string {
  if (SAFE_KEY.test(taskId) && !taskId.startsWith(ENCODED_MARK)) return taskId
  return ENCODED_MARK + Buffer.from(taskId, 'utf8').toString('base64url')
}

/** The task id a key made by {@link taskKey} stands for. */
export function taskIdOfKey(key: string): string {
  return key.startsWith(ENCODED_MARK) ? Buffer.from(key.slice(1), 'base64url').toString('utf8') : key
}

/** Whether `value` can be used as a key prefix or subject prefix: dot-separated safe tokens. */
export function isSafePrefix(value: string): boolean {
  return SAFE_KEY.test(value)
}
