/**
 * The last records an `rpc://` backend has seen, by task id, bounded in count.
 * @module
 */

/**
 * A map from task id to the latest encoded record, forgetting the least recently stored id
 * once `capacity` is reached.
 *
 * @remarks
 * Records are kept encoded, so every read decodes a fresh copy that the caller may change
 * freely. A Map keeps insertion order; re-inserting on every set makes it least-recently-
 * written order, so eviction is the first key, in O(1).
 */
export class RecordCache {
  readonly capacity: number
  readonly #records = new Map<string, Uint8Array>()

  constructor(capacity: number) {
    this.capacity = capacity
  }

  get size(): number {
    return this.#records.size
  }

  get(taskId: string): Uint8Array | undefined {
    return this.#records.get(taskId)
  }

  set(taskId: string, bytes: Uint8Array): void {
    this.#records.delete(taskId)
    this.#records.set(taskId, bytes)
    if (this.#records.size > this.capacity) {
      const oldest = this.#records.keys().next()
      if (!oldest.done) this.#records.delete(oldest.value)
    }
  }

  delete(taskId: string): void {
    this.#records.delete(taskId)
  }

  clear(): void {
    this.#records.clear()
  }
}
