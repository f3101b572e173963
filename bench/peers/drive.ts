// The workloads as a TypeScript client runs them (celeriac's and BullMQ's), timed here, in the
// client's own process. Celery's client (celery/client.py) does the same in Python.
import { chordSum, Unavailable, type Measures, type Plan } from './plan.js'
import { inWindows, percentile } from '../stats.js'

/** How one system's client sends tasks and waits for their results. */
export interface Driver<H> {
  /**
   * Sends `noop(arg)` (returns arg), `burn(arg ms)` (returns the rounds it hashed) or
   * `sleep(arg, ms)` (awaits a timer of `ms`, returns arg); resolves once it is sent.
   */
  send(task: Task, arg: number, ms?: number): Promise<H>
  /** Resolves to the task's result. */
  result(handle: H): Promise<unknown>
  /** Sends `noop(i)` to a queue no worker reads. */
  enqueue(i: number): Promise<unknown>
  /** Sends a chord of `size` no-ops whose body sums them; resolves to the sum. */
  chord(size: number): Promise<unknown>
}

/** The bench's tasks. */
export type Task = 'noop' | 'burn' | 'sleep'

const seconds = (since: number) => (performance.now() - since) / 1000

/**
 * Sends `count` tasks and awaits every result; checks each one (a no-op or sleep returns its
 * argument, a burn a count of rounds), so that speed is never bought with a lost or
 * wrong result.
 */
async function endToEnd<H>(driver: Driver<H>, plan: Plan, task: Task, count: number, arg: (i: number) => number, ms?: number): Promise<number> {
  const began = performance.now()
  const handles = await inWindows(count, plan.window, (i) => driver.send(task, arg(i), ms))
  const values = await inWindows(count, plan.window, (i) => driver.result(handles[i]))
  const rate = count / seconds(began)
  values.forEach((value, i) => {
    // A burn's rounds may be 0 on a loaded machine (its 5 ms passed before the first round).
    const right = task === 'burn' ? Number.isInteger(value) && (value as number) >= 0 : value === arg(i)
    if (!right) throw new Error(`${task}: wrong result for task ${i}: ${JSON.stringify(value)}`)
  })
  return rate
}

/** Runs the plan's workloads in order and returns their figures. */
export async function drive<H>(driver: Driver<H>, plan: Plan): Promise<Measures> {
  const measures: Measures = {}
  for (const workload of plan.workloads) {
    switch (workload) {
      case 'throughput':
        // Twice: the first pass runs on code V8 has not compiled yet (the first seconds after a
        // start); the second is the steady state a long-running worker and client are in.
        measures.throughputCold = await endToEnd(driver, plan, 'noop', plan.tasks, (i) => i)
        measures.throughput = await endToEnd(driver, plan, 'noop', plan.tasks, (i) => i)
        break
      case 'roundTrip': {
        const times: number[] = []
        for (let i = 0; i < plan.roundTrips; i++) {
          const began = performance.now()
          await driver.result(await driver.send('noop', i))
          times.push(performance.now() - began)
        }
        times.sort((a, b) => a - b)
        measures.p50 = percentile(times, 50)
        measures.p99 = percentile(times, 99)
        break
      }
      case 'enqueue': {
        const began = performance.now()
        await inWindows(plan.tasks, plan.window, (i) => driver.enqueue(i))
        measures.enqueue = plan.tasks / seconds(began)
        break
      }
      case 'io':
        measures.io = await endToEnd(driver, plan, 'sleep', plan.ioTasks, (i) => i, plan.ioMs)
        break
      case 'cpu':
        measures.cpu = await endToEnd(driver, plan, 'burn', plan.cpuTasks, () => plan.cpuMs)
        break
      case 'chord': {
        const began = performance.now()
        try {
          const sum = await driver.chord(plan.chordSize)
          if (sum !== chordSum(plan.chordSize)) throw new Error(`chord: wrong result ${JSON.stringify(sum)}, expected ${chordSum(plan.chordSize)}`)
          measures.chord = performance.now() - began
        } catch (error) {
          if (!(error instanceof Unavailable)) throw error
          measures.unavailable = { ...measures.unavailable, chord: error.message }
        }
        break
      }
    }
  }
  return measures
}

/** Reads the plan a client was given as its one argument. */
export function planFromArgv(): Plan {
  const [json] = process.argv.slice(2)
  if (json === undefined) throw new Error('usage: <client> <plan as JSON> (run by bench/compare.ts)')
  return JSON.parse(json) as Plan
}
