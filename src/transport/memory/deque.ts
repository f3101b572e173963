/**
 * A double-ended queue on a growable ring buffer: O(1) push and shift at both ends, where
 * `Array.prototype.shift` on a large array is O(n).
 */
export class Deque<T> {
  #items: (T | undefined)[] = new Array(16)
  #head = 0
  #size = 0

  /** How many items the deque holds. */
  get size(): number {
    return this.#size
  }

  /** Adds an item at the back. */
  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow()
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item
    this.#size++
  }

  /** Adds an item at the front. */
  unshift(item: T): void {
    if (this.#size === this.#items.length) this.#grow()
    this.#head = (this.#head - 1) & (this.#items.length - 1)
    this.#items[this.#head] = item
    this.#size++
  }

  /** The front item, left in place. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head]
  }

  /** Removes and returns the front item. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined
    const item = this.#items[this.#head]
    // Cleared so a delivered message's body can be collected.
    this.#items[this.#head] = undefined
    this.#head = (this.#head + 1) & (this.#items.length - 1)
    this.#size--
    return item
  }

  /** Removes every item; returns how many there were. */
  clear(): number {
    const size = this.#size
    this.#items = new Array(16)
    this.#head = 0
    this.#size = 0
    return size
  }

  #grow(): void {
    const old = this.#items
    // Capacity stays a power of two so that `& (length - 1)` wraps indexes.
    const items = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.#size; i++) items[i] = old[(this.#head + i) & (old.length - 1)]
    this.#items = items
    this.#head = 0
  }
}
