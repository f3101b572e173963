/**
 * Where beats keep their shared state (the leader lease, each entry's last run): a tiny
 * key-value contract with compare-and-set, and its one-process implementation for `memory://`.
 * @module
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ConfigError } from '../errors.js'

/** A stored value and its revision (bumped by every write). */
export interface Stored {
  value: string
  revision: number
}

/**
 * The state several beats share. Writes are conditional, so two beats never both win.
 *
 * @remarks
 * Deliberately leaves out deletes, listing and watches: beats poll the lease (NATS 2.9 emits
 * nothing when a key expires) and read entries by name.
 */
export interface BeatStore {
  get(key: string): Promise<Stored | undefined>
  /** Writes `key` if it does not exist; resolves to the new revision, or `undefined` when it exists. */
  create(key: string, value: string): Promise<number | undefined>
  /** Writes `key` if its revision is still `revision`; resolves to the new one, or `undefined` when it changed. */
  update(key: string, value: string, revision: number): Promise<number | undefined>
  /** Where `key` lives, for log lines (`key "app.entry.a" in KV bucket celeriac-beat`). @default `key "<key>"` */
  describe?(key: string): string
}

/** The key of the leader lease; never persisted by {@link FileBeatStore}. */
export const LEASE_KEY = 'lease'

/** The key of an entry's last run. */
export function entryKey(name: string): string {
  return `entry.${name}`
}

const stores = new Map<string, FileBeatStore>()

/**
 * The store of the schedule file at `path` (resolved against the working directory), one per
 * file in this process, so beats of one process that name the same file share it.
 */
export function fileBeatStore(path: string): FileBeatStore {
  const file = resolve(path)
  let store = stores.get(file)
  if (!store) {
    store = new FileBeatStore(file)
    stores.set(file, store)
  }
  return store
}

/**
 * The beat state of one process (`memory://`, where the broker lives in the process too): the
 * lease in memory, last runs also written to a JSON file (Celery's `celerybeat-schedule`) so a
 * restart neither fires again nor forgets what ran. Writes replace the file atomically.
 */
export class FileBeatStore implements BeatStore {
  readonly file: string
  readonly #values = new Map<string, Stored>()

  constructor(file: string) {
    this.file = file
    if (!existsSync(file)) return
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, Stored> }
      for (const [key, stored] of Object.entries(saved.entries)) this.#values.set(key, { value: String(stored.value), revision: Number(stored.revision) })
    } catch (error) {
      throw new ConfigError(`cannot read the beat schedule file ${file} (delete it to start afresh): ${(error as Error).message}`, { cause: error })
    }
  }

  describe(key: string): string {
    return `key "${key}" of ${this.file}`
  }

  async get(key: string): Promise<Stored | undefined> {
    return this.#values.get(key)
  }

  async create(key: string, value: string): Promise<number | undefined> {
    return this.#values.has(key) ? undefined : this.#write(key, value, 1)
  }

  async update(key: string, value: string, revision: number): Promise<number | undefined> {
    const current = this.#values.get(key)
    return current?.revision === revision ? this.#write(key, value, revision + 1) : undefined
  }

  #write(key: string, value: string, revision: number): number {
    this.#values.set(key, { value, revision })
    if (key !== LEASE_KEY) {
      const entries = Object.fromEntries([...this.#values].filter(([k]) => k !== LEASE_KEY))
      writeFileSync(`${this.file}.tmp`, JSON.stringify({ entries }))
      renameSync(`${this.file}.tmp`, this.file)
    }
    return revision
  }
}
