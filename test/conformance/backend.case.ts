/**
 * The ResultBackend contract as one suite, run against every implementation (memory, NATS KV).
 *
 * @remarks
 * Written for a backend behind a network: real time only, a latch with a deadline instead of
 * a sleep, and a fresh task id per test, so a shared bucket never leaks one test into another.
 * Each test gets its own fixture from `create()`. The suite connects every backend it is given
 * (the first and any from `second()`), closes them all at the end, then calls `cleanup`.
 * A test of a capability runs where the backend declares it and is skipped, with the
 * capability's name, where it does not; one test checks that the declaration and the facets
 * present agree.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import { requireCapability, type BackendCapabilities, type FacetName, type MetaListener, type ResultBackend, type TaskMeta } from '../../src/result/backend.js'
import type { ChordRecord } from '../../src/canvas/data.js'

/** What `create()` hands the suite for one test. */
export interface BackendFixture {
  backend: ResultBackend
  /** Opens another connection to the same store; tests that need one skip without it. */
  second?: () => Promise<ResultBackend>
  cleanup?: () => Promise<void>
}

/** Names the implementation under test and how to build it. */
export interface BackendSuiteOptions {
  name: string
  create: () => Promise<BackendFixture>
  /** Tests this implementation cannot pass, by exact name, each group with its reason. */
  skip?: { reason: string; tests: string[] }[]
}

/** A test, and the capability it needs (run only where the backend declares it). */
type Case = ((t: Test, fx: Fixture) => Promise<void>) & { needs?: keyof BackendCapabilities }

function needing(capability: keyof BackendCapabilities, run: Case): Case {
  return Object.assign(run, { needs: capability })
}

/** Every capability a backend declares; a declaration with other keys is a mistake. */
const CAPABILITIES: readonly (keyof BackendCapabilities)[] = ['stores', 'chords', 'announce', 'push', 'local']
/** The members each facet must have. */
const FACET_MEMBERS: Record<FacetName, readonly string[]> = {
  chords: ['start', 'partReturn'],
  announce: ['send'],
  push: ['expect', 'awaitReady'],
  local: ['read', 'watch'],
}
interface Fixture {
  backend: ResultBackend
  second?: () => Promise<ResultBackend>
  id: string
}

const DEADLINE_MS = 5_000

function chordRecord(id: string, size: number): ChordRecord {
  return { id, size, body: { task: 't.body', args: [], kwargs: {}, options: { taskId: `${id}-body` }, immutable: false }, results: Array.from({ length: size }, (_, i) => `${id}-${i}`), rootId: id }
}

/** Collects what a watch delivers; `until` resolves when a record matches, fails at a deadline. */
class Recorder {
  readonly records: TaskMeta[] = []
  #waiters: { match: (m: TaskMeta) => boolean; done: () => void }[] = []

  readonly listener: MetaListener = (meta) => {
    this.records.push(meta)
    const waiting = this.#waiters
    this.#waiters = []
    for (const waiter of waiting) {
      if (waiter.match(meta)) waiter.done()
      else this.#waiters.push(waiter)
    }
  }

  get states(): string[] {
    return this.records.map((r) => String(r.state))
  }

  until(match: (m: TaskMeta) => boolean, label: string): Promise<void> {
    if (this.records.some(match)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no record ${label} within ${DEADLINE_MS} ms`)), DEADLINE_MS)
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      this.#waiters.push({ match, done })
    })
  }

  untilState(state: string): Promise<void> {
    return this.until((m) => m.state === state, `in state ${state}`)
  }
}

const bytes = (...values: number[]) => new Uint8Array(values)

function fullMeta(id: string): TaskMeta {
  return {
    taskId: id,
    state: 'FAILURE',
    result: bytes(0, 1, 127, 128, 255),
    contentType: 'application/x-msgpack',
    error: {
      type: 'ValueError', code: 'ERR_REMOTE', message: 'outer', stack: 'ValueError: outer\n    at task (tasks.ts:1:1)',
      data: { attempt: 2, tags: ['a', 'b'] },
      cause: { type: 'TypeError', code: 'ERR_REMOTE', message: 'inner', cause: { type: 'Error', code: 'E_ROOT', message: 'root' } },
    },
    name: 'tasks.add', retries: 3, worker: 'celery@host-1', dateDone: 1_767_225_600_123,
    parentId: `${id}-parent`, rootId: `${id}-root`, groupId: `${id}-group`, children: [`${id}-c1`, `${id}-c2`],
  }
}

function sameRecord(t: Test, got: TaskMeta | undefined, want: TaskMeta, label: string): void {
  if (!got) {
    t.fail(`${label}: record missing`)
    return
  }
  const { result: gotResult, ...gotRest } = got
  const { result: wantResult, ...wantRest } = want
  t.strictSame(gotRest, wantRest, `${label}: fields`)
  if (wantResult === undefined) {
    t.equal(gotResult, undefined, `${label}: no result`)
  } else {
    t.ok(gotResult instanceof Uint8Array, `${label}: result is a Uint8Array`)
    t.same(Array.from(gotResult ?? []), Array.from(wantResult), `${label}: result bytes`)
  }
}

const CASES: Record<string, Case> = {
  'get - an unknown id reads as undefined': async (t, { backend, id }) => {
    t.equal(await backend.get(id), undefined)
  },

  'store - get round-trips every field': async (t, { backend, id }) => {
    const meta = fullMeta(id)
    await backend.store(meta)
    sameRecord(t, await backend.get(id), fullMeta(id), 'full record')
  },

  'store - the last write wins': async (t, { backend, id }) => {
    for (const state of ['RECEIVED', 'STARTED', 'SUCCESS']) await backend.store({ taskId: id, state, worker: state })
    sameRecord(t, await backend.get(id), { taskId: id, state: 'SUCCESS', worker: 'SUCCESS' }, 'latest')
  },

  'store - later changes to the stored object do not reach the record': async (t, { backend, id }) => {
    const meta: TaskMeta = { taskId: id, state: 'SUCCESS', name: 'tasks.add', retries: 0 }
    await backend.store(meta)
    meta.state = 'FAILURE'
    meta.retries = 9
    sameRecord(t, await backend.get(id), { taskId: id, state: 'SUCCESS', name: 'tasks.add', retries: 0 }, 'stored')
  },

  'get - changes to a returned record do not reach the store': async (t, { backend, id }) => {
    await backend.store({ taskId: id, state: 'SUCCESS' })
    const first = await backend.get(id)
    if (first) first.state = 'FAILURE'
    sameRecord(t, await backend.get(id), { taskId: id, state: 'SUCCESS' }, 'second read')
  },

  'watch - sees every later store in order and nothing stored before': async (t, { backend, id }) => {
    await backend.store({ taskId: id, state: 'PENDING', name: 'before the watch' })
    const seen = new Recorder()
    const unwatch = await backend.watch(id, seen.listener)
    const sequence: TaskMeta[] = [
      { taskId: id, state: 'RECEIVED' },
      { taskId: id, state: 'STARTED', worker: 'w1' },
      { taskId: id, state: 'PROGRESS', result: bytes(1, 2, 3), contentType: 'application/json' },
      { taskId: id, state: 'SUCCESS', result: bytes(42), dateDone: 1_767_225_600_000 },
    ]
    for (const meta of sequence) await backend.store(meta)
    await seen.untilState('SUCCESS')
    unwatch()
    t.same(seen.states, ['RECEIVED', 'STARTED', 'PROGRESS', 'SUCCESS'])
    sequence.forEach((meta, i) => sameRecord(t, seen.records[i], meta, meta.state))
  },

  'watch - a watch sees only its own id': async (t, { backend, id }) => {
    const seen = new Recorder()
    const unwatch = await backend.watch(id, seen.listener)
    await backend.store({ taskId: `${id}-other`, state: 'SUCCESS' })
    await backend.store({ taskId: id, state: 'SUCCESS' })
    await seen.untilState('SUCCESS')
    unwatch()
    t.same(seen.records.map((r) => r.taskId), [id])
  },

  'watch - two watchers both see every store': async (t, { backend, id }) => {
    const a = new Recorder()
    const b = new Recorder()
    const unwatchA = await backend.watch(id, a.listener)
    const unwatchB = await backend.watch(id, b.listener)
    for (const state of ['RECEIVED', 'STARTED', 'SUCCESS']) await backend.store({ taskId: id, state })
    await Promise.all([a.untilState('SUCCESS'), b.untilState('SUCCESS')])
    unwatchA()
    unwatchB()
    t.same(a.states, ['RECEIVED', 'STARTED', 'SUCCESS'])
    t.same(b.states, ['RECEIVED', 'STARTED', 'SUCCESS'])
  },

  'watch - unwatch stops delivery': async (t, { backend, id }) => {
    const stopped = new Recorder()
    const still = new Recorder()
    const unwatchStopped = await backend.watch(id, stopped.listener)
    const unwatchStill = await backend.watch(id, still.listener)
    await backend.store({ taskId: id, state: 'RECEIVED' })
    await Promise.all([stopped.untilState('RECEIVED'), still.untilState('RECEIVED')])
    unwatchStopped()
    await backend.store({ taskId: id, state: 'STARTED' })
    await backend.store({ taskId: id, state: 'SUCCESS' })
    // The watcher left in place is the latch: once it has SUCCESS, the stopped one had its chance.
    await still.untilState('SUCCESS')
    unwatchStill()
    t.same(stopped.states, ['RECEIVED'])
    t.same(still.states, ['RECEIVED', 'STARTED', 'SUCCESS'])
    t.doesNotThrow(() => unwatchStopped(), 'unwatch twice is harmless')
  },

  'forget - removes the record': async (t, { backend, id }) => {
    await backend.store({ taskId: id, state: 'SUCCESS', result: bytes(1) })
    await backend.forget(id)
    t.equal(await backend.get(id), undefined)
  },

  'forget - an unknown id is not an error': async (t, { backend, id }) => {
    await backend.forget(id)
    t.equal(await backend.get(id), undefined)
  },

  'connections - a record stored by one is read by another': needing('stores', async (t, { backend, second, id }) => {
    if (!second) return t.plan(0, 'create() gave no second connection')
    const other = await second()
    await backend.store(fullMeta(id))
    sameRecord(t, await other.get(id), fullMeta(id), 'read on the second connection')
    await other.forget(id)
    t.equal(await backend.get(id), undefined, 'forgotten through the second connection')
  }),

  'connections - a watch on one sees stores made through another': async (t, { backend, second, id }) => {
    if (!second) return t.plan(0, 'create() gave no second connection')
    const other = await second()
    const seen = new Recorder()
    const unwatch = await other.watch(id, seen.listener)
    await backend.store({ taskId: id, state: 'STARTED' })
    await backend.store({ taskId: id, state: 'SUCCESS', result: bytes(7) })
    await seen.untilState('SUCCESS')
    unwatch()
    t.same(seen.states, ['STARTED', 'SUCCESS'])
  },

  'chords - the report that completes a chord gets its record, and only that one': needing('chords', async (t, { backend, id }) => {
    const record = chordRecord(id, 3)
    await backend.chords!.start(record)
    t.equal(await backend.chords!.partReturn(id, [0], 3), undefined)
    t.equal(await backend.chords!.partReturn(id, [2], 3), undefined)
    t.same(await backend.chords!.partReturn(id, [1], 3), record, 'the last member gets the record')
  }),

  'chords - a member reported twice counts once': needing('chords', async (t, { backend, id }) => {
    await backend.chords!.start(chordRecord(id, 2))
    t.equal(await backend.chords!.partReturn(id, [0], 2), undefined)
    t.equal(await backend.chords!.partReturn(id, [0], 2), undefined, 'a redelivered member does not complete the chord')
    t.ok(await backend.chords!.partReturn(id, [1], 2), 'the other member does')
    t.equal(await backend.chords!.partReturn(id, [1], 2), undefined, 'and a report after completion completes nothing')
  }),

  'chords - reports racing on two connections complete the chord exactly once': needing('chords', async (t, { backend, second, id }) => {
    if (!second) return t.plan(0, 'create() gave no second connection')
    const other = await second()
    const size = 60
    await backend.chords!.start(chordRecord(id, size))
    const reports = Array.from({ length: size }, (_, i) => (i % 2 === 0 ? backend : other).chords!.partReturn(id, [i], size))
    const completed = (await Promise.all(reports)).filter((r) => r !== undefined)
    t.equal(completed.length, 1, 'one report of 60 completed it')
    t.equal(completed[0]?.id, id)
  }),

  'chords - a member index out of range is refused': needing('chords', async (t, { backend, id }) => {
    await backend.chords!.start(chordRecord(id, 2))
    await t.rejects(backend.chords!.partReturn(id, [2], 2), { name: 'InvalidArgumentError', message: /member index 2 is out of range for 2 members/ })
  }),

  'capabilities - each declared capability has its facet, and only those': async (t, { backend }) => {
    const { capabilities } = backend
    t.strictSame(Object.keys(capabilities).sort(), [...CAPABILITIES].sort(), 'declares every capability, and no other key')
    for (const name of CAPABILITIES) t.type(capabilities[name], 'boolean', `${name} is declared true or false`)
    for (const [name, members] of Object.entries(FACET_MEMBERS) as [FacetName, readonly string[]][]) {
      const facet = backend[name] as Record<string, unknown> | undefined
      t.equal(facet !== undefined, capabilities[name], `the ${name} facet is present exactly when declared`)
      if (capabilities[name]) {
        for (const member of members) t.type(facet?.[member], 'function', `${name}.${member}`)
        t.equal(requireCapability(backend, name, 'tests'), facet, `requireCapability hands out the ${name} facet`)
      } else {
        t.throws(() => requireCapability(backend, name, 'tests'), { name: 'ConfigError', message: new RegExp(`^tests need a result backend that .*; ${backend.kind}:// does not$`) }, `requireCapability refuses ${name}`)
      }
    }
    if (capabilities.push) t.type(backend.push?.replyTo, 'string', 'a connected backend has a reply subject')
  },

  'announce - watchers see an announced record, which is not stored': needing('announce', async (t, { backend, id }) => {
    await backend.store({ taskId: id, state: 'PENDING' })
    const seen = new Recorder()
    const unwatch = await backend.watch(id, seen.listener)
    await backend.announce!.send({ taskId: id, state: 'RECEIVED', worker: 'w1' })
    await backend.store({ taskId: id, state: 'STARTED' })
    await seen.untilState('STARTED')
    unwatch()
    t.same(seen.states, ['RECEIVED', 'STARTED'], 'in order with the stores around it')
    sameRecord(t, seen.records[0], { taskId: id, state: 'RECEIVED', worker: 'w1' }, 'announced')
    sameRecord(t, await backend.get(id), { taskId: id, state: 'STARTED' }, 'the stored record is the last stored, not the announced one')
  }),

  'push - a ready record stored with the sender\'s replyTo reaches the sender': needing('push', async (t, { backend, second, id }) => {
    const worker = second ? await second() : backend
    const replyTo = backend.push!.replyTo
    backend.push!.expect(id)
    // As AsyncResult.get does: the pushed record when the backend can count on it, else watch and read.
    const seen = new Recorder()
    let unwatch = backend.push!.awaitReady(id, seen.listener, () => t.fail('no connection was lost'))
    unwatch ??= await backend.watch(id, seen.listener)
    const meta: TaskMeta = { taskId: id, state: 'SUCCESS', result: bytes(9), contentType: 'application/x-msgpack', replyTo }
    await worker.store(meta)
    await seen.untilState('SUCCESS')
    unwatch()
    sameRecord(t, seen.records.at(-1), meta, 'received')
    sameRecord(t, await backend.get(id), meta, 'read by the sender afterwards')
  }),
  'local - records read and watched in this process, in the same turn': needing('local', async (t, { backend, second, id }) => {
    const local = backend.local!
    t.equal(local.read(id), undefined, 'an unknown id reads as nothing')
    const seen = new Recorder()
    const unwatch = local.watch(id, seen.listener)
    const writer = second ? await second() : backend
    await writer.store({ taskId: id, state: 'STARTED' })
    const done: TaskMeta = { taskId: id, state: 'SUCCESS', result: bytes(3), contentType: 'application/x-msgpack' }
    await writer.store(done)
    await seen.untilState('SUCCESS')
    unwatch()
    t.same(seen.states, ['STARTED', 'SUCCESS'], 'the watch saw every store, in order')
    sameRecord(t, local.read(id), done, 'read at once, as get() reads it')
    await writer.store({ taskId: id, state: 'FAILURE' })
    t.same(seen.states, ['STARTED', 'SUCCESS'], 'nothing after unwatch')
    await backend.forget(id)
    t.equal(local.read(id), undefined, 'a forgotten record reads as nothing')
  }),
}

/** The names of every test in the suite, for `skip` lists. */
export const BACKEND_SUITE_TESTS: readonly string[] = Object.keys(CASES)

/**
 * Runs the ResultBackend conformance suite as a subtest of `t`.
 * @example
 * runBackendSuite(t, { name: 'memory', create: async () => ({ backend: new MemoryBackend() }) })
 */
export function runBackendSuite(t: Test, options: BackendSuiteOptions): Promise<void> {
  const reasons = new Map<string, string>()
  for (const { reason, tests } of options.skip ?? []) {
    for (const name of tests) {
      // A typo in a skip list would otherwise silently run, or silently skip, the wrong test.
      if (!(name in CASES)) throw new Error(`skip names an unknown backend conformance test: ${name}`)
      reasons.set(name, reason)
    }
  }
  const slug = options.name.replace(/[^A-Za-z0-9]+/g, '-')
  const suite = t.test(`result backend conformance - ${options.name}`, async (t) => {
    // Capabilities are declared by the class, before any connection: one unconnected instance tells.
    const probe = await options.create()
    const { kind, capabilities } = probe.backend
    await probe.cleanup?.()
    for (const [name, run] of Object.entries(CASES)) {
      const skip = reasons.get(name) ?? (run.needs !== undefined && !capabilities[run.needs] ? `${kind}:// does not declare the '${run.needs}' capability` : undefined)
      await t.test(name, skip === undefined ? {} : { skip }, async (t) => {
        const fx = await options.create()
        const opened: ResultBackend[] = [fx.backend]
        const second = fx.second && (async () => {
          const backend = await fx.second!()
          opened.push(backend)
          await backend.connect()
          return backend
        })
        try {
          await fx.backend.connect()
          await run(t, { backend: fx.backend, second, id: `${slug}-${randomUUID()}` })
        } finally {
          for (const backend of opened) await backend.close()
          await fx.cleanup?.()
        }
      })
    }
  })
  return suite.then(() => undefined)
}
