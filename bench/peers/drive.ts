// The workloads as a TypeScript client runs them (celeriac's and BullMQ's), timed here, in the
// client's own process. Celery's client (celery/client.py) does the same in Python.
import { chordSum, Unavailable, type Measures, type Plan } from './plan.js'
import { inWindows, percentile } from '../stats.js'

/** How one system's client sends tasks and waits for their results. */
export interface Driver<H> {
  /** Sends `noop(arg)` (returns arg) or `burn(arg ms)`; resolves once it is sent. */
  send(task: 'noop' | 'burn', arg: number): Promise<H>
  /** Resolves to the task's result. */
  result(handle: H): Promise<unknown>
  /** Sends `noop(i)` to a queue no worker reads. */
  enqueue(i: number): Promise<unknown>
  /** Sends a chord of `size` no-ops whose body sums them; resolves to the sum. */
  chord(size: number): Promise<unknown>
}

const seconds = (since: number) => (performance.now() - since) / 1000

async function endToEnd<H>(driver: Driver<H>, plan: Plan, task: 'noop' | 'burn', count: number, arg: (i: number) => number): Promise<number> {
  const began = performance.now()
  const handles = await inWindows(count, plan.window, (i) => driver.send(task, arg(i)))
  const values = await inWindows(count, plan.window, (i) => driver.result(handles[i]))
  const rate = count / seconds(began)
  if (task === 'noop' && values[count - 1] !== count - 1) throw new Error(`${task}: wrong result ${JSON.stringify(values[count - 1])}`)
  return rate
}

/** Runs the plan's workloads in order and returns their figures. */
export async function drive<H>(driver: Driver<H>, plan: Plan): Promise<Measures> {
  const measures: Measures = {}
  for (const workload of plan.workloads) {
    switch (workload) {
      case 'throughput':
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
