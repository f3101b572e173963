// celeriac's client in the comparison bench: runs the plan (argv[2], JSON) against the app in
// bench/fixtures/compare-app.ts and prints its figures as JSON. On memory:// the worker node
// runs here too (the embedded broker lives in one process); otherwise in its own process.
import type { AsyncResult, Signature } from '../../src/index.js'
import { app, burn, noop, xsum } from '../fixtures/compare-app.js'
import { drive, planFromArgv, type Driver } from './drive.js'
import { Unavailable } from './plan.js'

/** DESIGN.md part 1: `chord(members, body).applyAsync()`, whose result gives the body's. */
type Chord = (members: Signature[], body: Signature) => { applyAsync(): Promise<AsyncResult> }

const plan = planFromArgv()
const node = app.conf.broker.startsWith('memory:') ? app.worker({ concurrency: 2, hostname: 'bench-memory@%h' }) : undefined
await node?.start()

const driver: Driver<AsyncResult> = {
  send: (task, arg) => (task === 'noop' ? noop : burn).applyAsync([arg]),
  result: (result) => result.get({ timeout: plan.timeoutS }),
  enqueue: (i) => noop.applyAsync([i], { queue: 'bench-enqueue' }),
  async chord(size) {
    // Canvas may not be in this build: looked up at run time, reported when missing.
    const celeriac: Record<string, unknown> = await import('../../src/index.js')
    const chord = celeriac.chord as Chord | undefined
    if (typeof chord !== 'function') throw new Unavailable('celeriac chord: not available in this build')
    const result = await chord(Array.from({ length: size }, (_, i) => noop.s(i)), xsum.s()).applyAsync()
    return result.get({ timeout: plan.timeoutS })
  },
}
const measures = await drive(driver, plan)
await node?.stop()
await app.close()
console.log(JSON.stringify(measures))
