/** An entry of a {@link DelayHeap}: due time, then a sequence number for FIFO among equals. */
export interface Delayed {
  due: number
  seq: number
}

function before(a: Delayed, b: Delayed): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq)
}

/** A binary min-heap of delayed entries ordered by due time, FIFO among equal due times. */
export class DelayHeap<T extends Delayed> {
  #items: T[] = []

  /** How many entries the heap holds. */
  get size(): number {
    return this.#items.length
  }

  /** The entry due first, without removing it. */
  peek(): T | undefined {
    return this.#items[0]
  }

  /** Adds an entry. */
  push(item: T): void {
    const items = this.#items
    let i = items.length
    items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(item, items[parent])) break
      items[i] = items[parent]
      i = parent
    }
    items[i] = item
  }

  /** Removes and returns the entry due first. */
  pop(): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= items.length) break
      const right = left + 1
      const child = right < items.length && before(items[right], items[left]) ? right : left
      if (!before(items[child], last)) break
      items[i] = items[child]
      i = child
    }
    items[i] = last
    return top
  }

  /** Removes every entry; returns how many there were. */
  clear(): number {
    const size = this.#items.length
    this.#items = []
    return size
  }
}
