// celeriac's client in the comparison bench: runs the plan (argv[2], JSON) against the app in
// bench/fixtures/compare-app.ts and prints its figures as JSON. On memory:// the worker node
// runs here too (the embedded broker lives in one process); otherwise in its own process.
import { chord, type AsyncResult } from 'celeriac'
import { app, burn, noop, sleep, xsum } from '../fixtures/compare-app.js'
import { drive, planFromArgv, type Driver } from './drive.js'
import { Unavailable } from './plan.js'

const plan = planFromArgv()
const node = app.conf.broker.startsWith('memory:') ? app.worker({ hostname: 'bench-memory@%h' }) : undefined
await node?.start()

const driver: Driver<AsyncResult> = {
  send: (task, arg, ms) => (task === 'noop' ? noop.applyAsync([arg]) : task === 'burn' ? burn.applyAsync([arg]) : sleep.applyAsync([arg, ms!])),
  result: (result) => result.get({ timeout: plan.timeoutS }),
  enqueue: (i) => noop.applyAsync([i], { queue: 'bench-enqueue' }),
  async chord(size) {
    // Celery's rpc backend cannot join chords either: the join reads the members' stored results.
    if (app.conf.backend.startsWith('rpc:')) throw new Unavailable('celeriac chord on rpc://: results are not stored, so a chord cannot be joined')
    const result = await chord(Array.from({ length: size }, (_, i) => noop.s(i)), xsum.s()).applyAsync()
    return result.get({ timeout: plan.timeoutS })
  },
}
const measures = await drive(driver, plan)
await node?.stop()
await app.close()
console.log(JSON.stringify(measures))
