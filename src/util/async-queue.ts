/**
 * An unbounded push-to-pull bridge: producers `push`, one consumer iterates with `for await`.
 * Ends when `end()` is called or the iterator is returned early (then `onReturn` runs once).
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  #items: T[] = []
  #waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined
  #ended = false
  #failure: unknown
  readonly #onReturn: () => void

  constructor(onReturn: () => void = () => {}) {
    this.#onReturn = onReturn
  }

  push(item: T): void {
    if (this.#ended) return
    const waiting = this.#waiting
    if (waiting) {
      this.#waiting = undefined
      waiting.resolve({ value: item, done: false })
    } else {
      this.#items.push(item)
    }
  }

  /** Ends the stream after the items already pushed; with `error`, the next read throws it. */
  end(error?: unknown): void {
    if (this.#ended) return
    this.#ended = true
    const waiting = this.#waiting
    this.#waiting = undefined
    if (waiting && error !== undefined) waiting.reject(error)
    else {
      this.#failure = error
      waiting?.resolve({ value: undefined, done: true })
    }
    this.#onReturn()
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift() as T, done: false })
    if (this.#ended) {
      const failure = this.#failure
      this.#failure = undefined
      return failure === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(failure)
    }
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }))
  }

  return(): Promise<IteratorResult<T>> {
    this.#items = []
    this.end()
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this
  }
}
