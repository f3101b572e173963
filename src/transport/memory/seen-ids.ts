/**
 * The message ids a `memory://` broker remembers for its duplicate window, oldest first.
 *
 * @remarks
 * Every task message carries its task id, so at a few thousand tasks a second the window holds
 * hundreds of thousands of ids. Kept as strings in a Map, with their expiry as heap numbers,
 * they cost about 500 bytes each (`npm run bench:allocations`) and a full GC walks every one of
 * them. A task id is a UUID (celeriac makes nothing else), so it is kept here as 16 bytes in
 * typed arrays, which the GC does not walk, with a Map from a 30-bit hash (a small integer) to
 * where it is: about 65 bytes an id in all. Any other id
 * (a retry's `<id>.r1`, beat's fire ids, a caller's own) goes into a plain Map. Lookups are exact
 * either way: the hash only says where to compare the 128 bits.
 */
export class SeenIds {
  /** A ring of entries in the order they were remembered: key words, expiry, hash. */
  #keys = new Uint32Array(4 * 1024)
  #until = new Float64Array(1024)
  #hashes = new Int32Array(1024)
  #head = 0
  /** Entries in the ring, dead ones included. */
  #count = 0
  /** Entries in the ring that are not dead. */
  #live = 0
  /** Ring index of each live UUID entry by its hash; an array where hashes collide. */
  readonly #byHash = new Map<number, number | number[]>()
  /** Ids that are not lower-case UUIDs, with their expiry, in the order remembered. */
  readonly #other = new Map<string, number>()
  /** Scratch for the words of the id being looked up. */
  readonly #words = new Uint32Array(4)
  /** Ids remembered, expired ones not yet pruned included. */
  get size(): number {
    return this.#live + this.#other.size
  }

  /** Until when `id` is remembered (clock ms), or `undefined`. */
  get(id: string): number | undefined {
    if (!uuidWords(id, this.#words)) return this.#other.get(id)
    const at = this.#find(this.#words)
    return at < 0 ? undefined : this.#until[at]
  }

  /** Remembers `id` until `until`, after every id remembered before it. */
  set(id: string, until: number): void {
    if (!uuidWords(id, this.#words)) return this.#setOther(id, until)
    this.#insert(this.#find(this.#words), until)
  }

  /**
   * What a publish asks, with one read of the id: true when `id` is remembered past `now` (a
   * duplicate; nothing changes); otherwise false, and the id is remembered until `until`
   * unless that is undefined.
   */
  claim(id: string, now: number, until: number | undefined): boolean {
    if (!uuidWords(id, this.#words)) {
      const seen = this.#other.get(id)
      if (seen !== undefined && seen > now) return true
      if (until !== undefined) this.#setOther(id, until)
      return false
    }
    const at = this.#find(this.#words)
    if (at >= 0 && this.#until[at] > now) return true
    if (until !== undefined) this.#insert(at, until)
    return false
  }

  #setOther(id: string, until: number): void {
    // Re-inserted, so that the Map stays in the order remembered for pruning.
    this.#other.delete(id)
    this.#other.set(id, until)
  }

  /** Appends the id in {@link #words} until `until`, replacing its entry at `old` (or -1). */
  #insert(old: number, until: number): void {
    const words = this.#words
    if (old >= 0) this.#forget(old)
    if (this.#count === this.#until.length) this.#grow()
    const at = (this.#head + this.#count++) & (this.#until.length - 1)
    this.#keys.set(words, 4 * at)
    this.#until[at] = until
    const hash = hashWords(words)
    this.#hashes[at] = hash
    const same = this.#byHash.get(hash)
    this.#byHash.set(hash, same === undefined ? at : typeof same === 'number' ? [same, at] : [...same, at])
    this.#live++
  }

  /**
   * Forgets the ids whose time is up at `now`, oldest first, then more of the oldest while more
   * than `max` are left.
   */
  prune(now: number, max: number): void {
    const mask = this.#until.length - 1
    while (this.#count > 0) {
      const at = this.#head
      const until = this.#until[at]
      // NaN: an entry already forgotten, whose id was remembered again later.
      if (!Number.isNaN(until)) {
        if (until > now && this.size <= max) break
        this.#forget(at)
      }
      this.#head = (at + 1) & mask
      this.#count--
    }
    for (const [id, until] of this.#other) {
      if (until > now && this.size <= max) break
      this.#other.delete(id)
    }
  }

  /** The ring index of the live entry for `words`, or -1. */
  #find(words: Uint32Array): number {
    const found = this.#byHash.get(hashWords(words))
    if (found === undefined) return -1
    if (typeof found === 'number') return this.#matches(found, words) ? found : -1
    for (const at of found) if (this.#matches(at, words)) return at
    return -1
  }

  #matches(at: number, words: Uint32Array): boolean {
    const keys = this.#keys
    const base = 4 * at
    return keys[base] === words[0] && keys[base + 1] === words[1] && keys[base + 2] === words[2] && keys[base + 3] === words[3]
  }

  /** Takes the entry at `at` out of the hash index and marks it dead; the ring drops it in turn. */
  #forget(at: number): void {
    const hash = this.#hashes[at]
    const same = this.#byHash.get(hash)
    if (same === at) this.#byHash.delete(hash)
    else if (Array.isArray(same)) {
      const rest = same.filter((other) => other !== at)
      this.#byHash.set(hash, rest.length === 1 ? rest[0] : rest)
    }
    this.#until[at] = NaN
    this.#live--
  }

  /** Doubles the ring, oldest entry first at index 0, and re-indexes the live entries. */
  #grow(): void {
    const capacity = this.#until.length
    const keys = new Uint32Array(8 * capacity)
    const until = new Float64Array(2 * capacity)
    const hashes = new Int32Array(2 * capacity)
    this.#byHash.clear()
    for (let i = 0; i < this.#count; i++) {
      const from = (this.#head + i) & (capacity - 1)
      keys.set(this.#keys.subarray(4 * from, 4 * from + 4), 4 * i)
      until[i] = this.#until[from]
      hashes[i] = this.#hashes[from]
      if (Number.isNaN(until[i])) continue
      const same = this.#byHash.get(hashes[i])
      this.#byHash.set(hashes[i], same === undefined ? i : typeof same === 'number' ? [same, i] : [...same, i])
    }
    this.#keys = keys
    this.#until = until
    this.#hashes = hashes
    this.#head = 0
  }
}

/** @internal Reads a lower-case UUID (`8-4-4-4-12` hex digits) into four 32-bit words; false for any other string. */
export function uuidWords(id: string, words: Uint32Array): boolean {
  if (id.length !== 36) return false
  let word = 0
  let digits = 0
  let w = 0
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i)
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false
      continue
    }
    // Lower case only: "A" and "a" are different ids, so an upper-case one goes to the Map.
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1
    if (digit < 0) return false
    word = (word << 4) | digit
    if (++digits === 8) {
      words[w++] = word >>> 0
      word = 0
      digits = 0
    }
  }
  return true
}

/** @internal A 30-bit hash of the words: a small integer, which a Map keeps without boxing. */
export function hashWords(words: Uint32Array): number {
  let h = Math.imul(words[0] ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ words[1] ^ (h >>> 15), 0xc2b2ae35)
  h = Math.imul(h ^ words[2] ^ (h >>> 13), 0x27d4eb2f)
  h = Math.imul(h ^ words[3] ^ (h >>> 16), 0x165667b1)
  return (h ^ (h >>> 15)) & 0x3fffffff
}
