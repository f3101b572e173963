/**
 * A promise that settles after `count` calls to `unlock()`, or rejects after `ms`: for tests
 * that wait for "N things happened" instead of sleeping.
 * @example
 * const latch = new Latch(3)
 * for await (const event of app.events.subscribe('task-succeeded')) { latch.unlock(event) }
 * await latch.promise
 */
export class Latch<T = void> {
  readonly promise: Promise<T[]>
  readonly items: T[] = []
  #resolve!: (items: T[]) => void
  readonly #count: number

  constructor(count: number, ms = 10_000) {
    this.#count = count
    let timer: NodeJS.Timeout
    this.promise = new Promise<T[]>((resolve, reject) => {
      this.#resolve = resolve
      timer = setTimeout(() => reject(new Error(`latch: ${this.items.length} of ${count} arrived within ${ms} ms`)), ms)
    }).finally(() => clearTimeout(timer))
  }

  unlock(item?: T): void {
    this.items.push(item as T)
    if (this.items.length === this.#count) this.#resolve(this.items)
  }
}
