import { toMs } from '../util/duration.js'
import { isWaitTimeout, waitTimeout, type GetOptions, type ResultLike } from './result-like.js'
import type { AsyncResult } from './async-result.js'

/** A member of a group's result: a task's result, or a nested group's. */
export type MemberResult = AsyncResult<any> | GroupResult<any>

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown }

/**
 * The result of a group: one result per member, in order. `get()` gives the list of their
 * values; with `propagate` (the default) it throws the first failure in member order, as soon
 * as every member before it has succeeded.
 */
export class GroupResult<R = unknown[]> implements ResultLike<R> {
  /** The group id, shared by its members' messages (`groupId`). */
  readonly id: string
  readonly results: readonly MemberResult[]
  /** The result this group's members were given as argument, in a chain. */
  parent?: ResultLike

  constructor(id: string, results: readonly MemberResult[]) {
    this.id = id
    this.results = results
  }

  /**
   * Waits for every member and returns their values in order. With `timeout`, each member
   * waits that long on its own app's clock; the first to run out ends the group's wait with a
   * TimeoutError counting the members not ready.
   */
  get(options: Omit<GetOptions, 'onMessage'> = {}): Promise<R> {
    const { timeout, propagate = true } = options
    const seconds = timeout === undefined ? undefined : toMs(timeout, 'get timeout') / 1000
    return new Promise<R>((resolve, reject) => {
      const n = this.results.length
      const settled: (Settled | undefined)[] = new Array(n)
      let next = 0
      let done = false
      const finish = (end: () => void) => {
        if (done) return
        done = true
        end()
      }
      const advance = () => {
        while (next < n && settled[next] !== undefined) {
          const member = settled[next]!
          if (!member.ok && propagate) return finish(() => reject(member.error))
          next++
        }
        if (next === n) finish(() => resolve(settled.map((s) => (s!.ok ? s!.value : (s as { error: unknown }).error)) as R))
      }
      this.results.forEach((result, i) => {
        const wait = seconds === undefined ? result.get() : result.get({ timeout: seconds })
        wait.then(
          (value) => {
            settled[i] = { ok: true, value }
            advance()
          },
          (error: unknown) => {
            // The members' deadlines are the group's: they all started now, for as long.
            if (isWaitTimeout(error)) return finish(() => reject(waitTimeout(`group ${this.id}: ${n - this.#count(settled)} of ${n} results not ready after ${seconds}s`)))
            settled[i] = { ok: false, error }
            advance()
          },
        )
      })
      advance()
    })
  }

  /** Celery's name for {@link get}. */
  join(options: Omit<GetOptions, 'onMessage'> = {}): Promise<R> {
    return this.get(options)
  }

  /** True once every member is ready. */
  async ready(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.ready()))).every(Boolean)
  }

  /** True when every member succeeded. */
  async successful(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.successful()))).every(Boolean)
  }

  /** True when any member failed. */
  async failed(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.failed()))).some(Boolean)
  }

  /** How many members succeeded (Celery's `completed_count`). */
  async completedCount(): Promise<number> {
    return (await Promise.all(this.results.map((r) => r.successful()))).filter(Boolean).length
  }

  /** True while any member is not ready. */
  async waiting(): Promise<boolean> {
    return !(await this.ready())
  }

  /** Revokes every member. */
  async revoke(options: { terminate?: boolean } = {}): Promise<void> {
    await Promise.all(this.results.map((r) => r.revoke(options)))
  }

  /** Removes every member's result from the backend. */
  async forget(): Promise<void> {
    await Promise.all(this.results.map((r) => r.forget()))
  }

  #count(settled: (Settled | undefined)[]): number {
    return settled.filter((s) => s !== undefined).length
  }

  toString(): string {
    return this.id
  }
}
