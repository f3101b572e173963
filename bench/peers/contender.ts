// A contender of the comparison bench: one system in one configuration, and what it needs.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Measures, Plan, Workload } from './plan.js'

/** Something a contender needs on this machine, and how to install it. */
export interface Requirement {
  /** What is missing, in words. */
  readonly what: string
  readonly available: () => boolean
  /** The exact command that installs it. */
  readonly install: string
}

/** One system in one configuration. */
export interface Contender {
  readonly system: 'celeriac' | 'BullMQ' | 'Celery' | 'JetStream'
  /** The configuration, e.g. `NATS + KV results, -c 2`. */
  readonly config: string
  /** The workloads it runs (a peer runs a workload in the configurations where it applies). */
  readonly workloads: readonly Workload[]
  readonly requires: readonly Requirement[]
  /** One run: starts its server and workers, runs its client, stops them all. */
  run(plan: Plan): Promise<Measures>
}

/** The repository root: clients and workers run from here. */
export const root = fileURLToPath(new URL('../..', import.meta.url))

/** Node with tsx, for the TypeScript clients and workers. */
export const tsNode = (file: string, ...args: string[]): [string, string[]] => [process.execPath, ['--import', 'tsx', fileURLToPath(file), ...args]]

/** Whether `command --version` runs. */
export const onPath = (command: string) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0

/** The first line `command --version` prints, for the report. */
export const versionOf = (command: string, args = ['--version']) => spawnSync(command, args, { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim() || 'unknown'
