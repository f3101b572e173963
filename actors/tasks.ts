// Tasks as a user writes them. Each worker thread imports this module once.
import { threadId } from 'node:worker_threads'
import { Task, type TaskContext } from '../src/index.js'
import { app } from './app.js'

export const add = app.task('tasks.add', (x: number, y: number) => x + y)
export const mul = app.task('tasks.mul', (x: number, y: number) => x * y)
export const xsum = app.task('tasks.xsum', (numbers: number[]) => numbers.reduce((a, b) => a + b, 0))

/** Counts how many Lookup instances this thread built: the runtime promises one per thread. */
let builds = 0

/** A class task: the "connection" and cache are built once per thread and reused by every call. */
export const lookup = app.task('tasks.lookup', class Lookup extends Task<[string], { value: string; threadId: number; builds: number; hits: number }> {
  readonly connection = { connectedAt: Date.now(), queries: 0 }
  readonly cache = new Map<string, string>()
  hits = 0

  constructor() {
    super()
    builds++
  }

  run(key: string) {
    const cached = this.cache.get(key)
    if (cached !== undefined) this.hits++
    const value = cached ?? `value-of-${key}#${++this.connection.queries}`
    this.cache.set(key, value)
    return { value, threadId, builds, hits: this.hits }
  }
})

/** Fails twice, then succeeds on its 3rd try. */
export const flaky = app.task('tasks.flaky', (ctx: TaskContext, label: string) => {
  if (ctx.request.retries < 2) ctx.retry({ countdown: 0.05, exc: new Error(`${label}: flaked on try ${ctx.request.retries + 1}`) })
  return `${label}: ok after ${ctx.request.retries} retries`
}, { bind: true, maxRetries: 5 })

/** A long task that reports PROGRESS as it goes. */
export const crunch = app.task('tasks.crunch', async (ctx: TaskContext, steps: number, stepMs: number = 20) => {
  for (let current = 1; current <= steps; current++) {
    await new Promise<void>((resolve) => setTimeout(resolve, stepMs))
    ctx.updateState({ state: 'PROGRESS', meta: { current, total: steps } })
  }
  return steps
}, { bind: true, trackStarted: true })

/** Never returns: only the hard time limit stops it. */
export const runaway = app.task('tasks.runaway', () => {
  for (;;) {
    // spin
  }
}, { timeLimit: 1 })

/** Stops early and cleans up when its soft time limit runs out. */
export const patient = app.task('tasks.patient', async (ctx: TaskContext, workMs: number) => {
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, workMs)
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        reject(ctx.signal.reason)
      })
    })
    return 'finished'
  } catch (error) {
    return `cleaned up after ${(error as Error).name}`
  }
}, { bind: true, softTimeLimit: 0.2, timeLimit: 5 })
