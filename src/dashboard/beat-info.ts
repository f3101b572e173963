/**
 * The Beat page's figures: each entry of the app's `beatSchedule` with its schedule, last and
 * next fire time, and which beat holds the leader lease (read from the beats' shared store on
 * NATS).
 * @module
 */
import { compileEntry } from '../beat/entry.js'
import { entryKey, LEASE_KEY, type BeatStore } from '../beat/store.js'
import { readLastRun } from '../beat/last-run.js'
import type { BeatEntryConfig } from '../beat/entry-config.js'

/** One periodic task as the Beat page shows it. */
export interface BeatEntryInfo {
  name: string
  task: string
  schedule: string
  args: unknown[]
  kwargs: Record<string, unknown>
  /** Last fire time known to the shared store, epoch ms; `null` when none is, or its record cannot be read (see `problem`). */
  lastRun: number | null
  /** How many times it fired, per the shared store. */
  totalRuns: number | null
  /** Next fire time, epoch ms: after the last run, or from now when none is known. */
  nextRun: number | null
  /** Why the entry could not be read, if it could not. */
  error?: string
  /** Why its last-run record in the shared store cannot be read, if it cannot: the beat takes it as never run, as this page does. */
  problem?: string
}

/** The Beat page's answer. */
export interface BeatInfo {
  entries: BeatEntryInfo[]
  /** The beat holding the leader lease, when the store says. */
  leaseHolder: string | null
  /** Where last runs and the lease were read: `nats` or `none` (memory:// keeps them in the beat's process). */
  store: 'nats' | 'none'
}

/** Reads the schedule, and the shared store when there is one. */
export async function readBeat(schedule: Readonly<Record<string, BeatEntryConfig>>, timezone: string, now: number, store: BeatStore | undefined): Promise<BeatInfo> {
  let leaseHolder: string | null = null
  if (store) {
    const lease = await store.get(LEASE_KEY).catch(() => undefined)
    try {
      const value = lease ? (JSON.parse(lease.value) as { holder?: string; released?: boolean }) : undefined
      if (value?.holder && !value.released) leaseHolder = value.holder
    } catch {
      // not a lease this version wrote
    }
  }
  const entries = await Promise.all(Object.entries(schedule).map(async ([name, config]): Promise<BeatEntryInfo> => {
    const base = { name, task: String(config.task), schedule: String(config.schedule), args: [...(config.args ?? [])], kwargs: { ...config.kwargs }, lastRun: null, totalRuns: null, nextRun: null }
    try {
      const entry = compileEntry(name, config, { timezone, now, tasks: new Map() })
      const stored = store ? await store.get(entryKey(name)).catch(() => undefined) : undefined
      // The beat's own reading (src/beat/last-run.ts), so that this page and the beat's warning agree.
      const reading = stored ? readLastRun(stored.value) : undefined
      const run = reading?.type === 'run' ? reading.run : undefined
      const info: BeatEntryInfo = { ...base, schedule: entry.schedule.toString(), lastRun: run?.at ?? null, totalRuns: run?.count ?? null, nextRun: entry.schedule.next(run?.at ?? now) }
      if (reading?.type === 'unreadable') info.problem = `its last run in the beat store cannot be read: ${reading.problem}; the beat takes it as never run and overwrites it at the next run`
      return info
    } catch (error) {
      return { ...base, error: (error as Error).message }
    }
  }))
  return { entries, leaseHolder, store: store ? 'nats' : 'none' }
}
