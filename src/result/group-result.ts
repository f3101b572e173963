import { ConfigError, InvalidArgumentError } from '../errors.js'
import { TaskState } from '../lifecycle/states.js'
import { msgpackCodec } from '../serialization/codec.js'
import { toMs } from '../util/duration.js'
import { checkGetOptions, isWaitTimeout, waitTimeout, type GetOptions, type ResultLike, type ValuesOrErrors } from './result-like.js'
import { AsyncResult, sourceOf, type ResultSource } from './async-result.js'
import type { ResultBackend } from './backend.js'

/** A member of a group's result: a task's result, or a nested group's. */
export type MemberResult = AsyncResult<unknown> | GroupResult<unknown>
/** A group's member results: position by position where the group's type gives its members' results. */
export type MemberResults<R> = R extends readonly unknown[] ? { readonly [K in keyof R]: AsyncResult<R[K]> | GroupResult<R[K]> } : readonly MemberResult[]

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown }

/**
 * The result of a group: one result per member, in order. `get()` gives the list of their
 * values; with `propagate` (the default) it throws the first failure in member order, as soon
 * as every member before it has succeeded.
 */
export class GroupResult<R = unknown[]> implements ResultLike<R> {
  /** The group id, shared by its members' messages (`groupId`). */
  readonly id: string
  readonly results: MemberResults<R>
  /** The result this group's members were given as argument, in a chain. */
  parent?: ResultLike
  /** The app it was restored through, if any; else its tasks' (see {@link save}). */
  readonly #source: ResultSource | undefined

  constructor(id: string, results: readonly MemberResult[], source?: ResultSource) {
    this.id = id
    this.results = results as MemberResults<R>
    this.#source = source
  }
  /** {@link results}, as the code here walks them. */
  get #members(): readonly MemberResult[] {
    return this.results as readonly MemberResult[]
  }


  /**
   * Waits for every member and returns their values in order. With `timeout`, each member
   * waits that long on its own app's clock; the first to run out ends the group's wait with a
   * TimeoutError counting the members not ready.
   */
  get(options: Omit<GetOptions, 'onMessage'> & { propagate: false }): Promise<ValuesOrErrors<R>>
  get(options?: Omit<GetOptions, 'onMessage'>): Promise<R>
  get(options: Omit<GetOptions, 'onMessage'> = {}): Promise<R | ValuesOrErrors<R>> {
    try {
      checkGetOptions(options)
    } catch (error) {
      return Promise.reject(error)
    }
    const { timeout, propagate = true } = options
    const seconds = timeout === undefined ? undefined : toMs(timeout, 'get timeout') / 1000
    return new Promise<R>((resolve, reject) => {
      const n = this.#members.length
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
      this.#members.forEach((result, i) => {
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
  join(options: Omit<GetOptions, 'onMessage'> & { propagate: false }): Promise<ValuesOrErrors<R>>
  join(options?: Omit<GetOptions, 'onMessage'>): Promise<R>
  join(options: Omit<GetOptions, 'onMessage'> = {}): Promise<R | ValuesOrErrors<R>> {
    return this.get(options as Omit<GetOptions, 'onMessage'>)
  }

  /** True once every member is ready. */
  async ready(): Promise<boolean> {
    return (await Promise.all(this.#members.map((r) => r.ready()))).every(Boolean)
  }

  /** True when every member succeeded. */
  async successful(): Promise<boolean> {
    return (await Promise.all(this.#members.map((r) => r.successful()))).every(Boolean)
  }

  /** True when any member failed. */
  async failed(): Promise<boolean> {
    return (await Promise.all(this.#members.map((r) => r.failed()))).some(Boolean)
  }

  /** How many members succeeded (Celery's `completed_count`). */
  async completedCount(): Promise<number> {
    return (await Promise.all(this.#members.map((r) => r.successful()))).filter(Boolean).length
  }

  /** True while any member is not ready. */
  async waiting(): Promise<boolean> {
    return !(await this.ready())
  }

  /** Revokes every member. */
  async revoke(options: { terminate?: boolean } = {}): Promise<void> {
    await Promise.all(this.#members.map((r) => r.revoke(options)))
  }

  /** Removes every member's result from the backend. */
  async forget(): Promise<void> {
    await Promise.all(this.#members.map((r) => r.forget()))
  }

  /**
   * Stores which results make up this group, under its id, so that another process can
   * {@link GroupResult.restore} it from the id alone (Celery's `save`): the members' ids and
   * nested groups, not their chain parents. Kept as long as results are (`resultExpires`).
   */
  async save(): Promise<void> {
    const backend = await this.#backend('save')
    if (!backend.capabilities.stores) throw new ConfigError(`group ${this.id}: saving a group needs a result backend that stores results (memory:// or nats://); ${backend.kind}:// only routes them to their sender`)
    await backend.store({ taskId: groupKey(this.id), state: TaskState.SUCCESS, name: GROUP_RECORD, result: msgpackCodec.encode(membersOf(this)), contentType: msgpackCodec.contentType, dateDone: Date.now() })
  }

  /** Removes what {@link save} stored (Celery's `delete`); the members' results stay (see {@link forget}). */
  async delete(): Promise<void> {
    await (await this.#backend('delete')).forget(groupKey(this.id))
  }

  /**
   * The group saved under `id` with {@link save}, its members bound to `source` (an app: use
   * `app.restoreGroup(id)`), or `undefined` when nothing is saved there (never saved, deleted,
   * or expired), as Celery's `GroupResult.restore` gives None.
   */
  static async restore(id: string, source: ResultSource): Promise<GroupResult | undefined> {
    if (typeof id !== 'string' || id === '') throw new InvalidArgumentError(`restore: a group id must be a non-empty string, got ${JSON.stringify(id)}`)
    const meta = await (await source.backend()).get(groupKey(id))
    if (meta?.name !== GROUP_RECORD || meta.result === undefined) return undefined
    return rebuilt(id, msgpackCodec.decode(meta.result) as SavedMember[], source)
  }

  /** The backend of this group's app: its own, else its first task's. */
  #backend(what: string): Promise<ResultBackend> {
    const source = GroupResult.#sourceOf(this)
    if (source === undefined) throw new InvalidArgumentError(`group ${this.id}: cannot ${what} a group with no task in it: it has no app to store through`)
    return source.backend()
  }

  static #sourceOf(group: GroupResult<any>): ResultSource | undefined {
    if (group.#source !== undefined) return group.#source
    for (const member of group.#members) {
      const source = member instanceof GroupResult ? GroupResult.#sourceOf(member) : sourceOf(member)
      if (source !== undefined) return source
    }
    return undefined
  }

  #count(settled: (Settled | undefined)[]): number {
    return settled.filter((s) => s !== undefined).length
  }

  toString(): string {
    return this.id
  }
}

/** What `save` stores for a member: a task's id, or a nested group's id and members. */
type SavedMember = string | [id: string, members: SavedMember[]]

/** The record name that marks a saved group, so that a task's record is never read as one. */
const GROUP_RECORD = 'celeriac.group'

/** The record id a group is saved under: apart from task ids, as Celery's `celery-taskset-meta-` keys are. */
function groupKey(id: string): string {
  return `celeriac-group-meta.${id}`
}

function membersOf(group: GroupResult<any>): SavedMember[] {
  return (group.results as readonly MemberResult[]).map((member) => (member instanceof GroupResult ? [member.id, membersOf(member)] : member.id))
}

function rebuilt(id: string, members: SavedMember[], source: ResultSource): GroupResult {
  return new GroupResult(id, members.map((member) => (typeof member === 'string' ? new AsyncResult(member, source) : rebuilt(member[0], member[1], source))), source)
}
