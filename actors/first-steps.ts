// `npm start`: Celery's first steps on the embedded broker, with a worker node of 2 threads
// in this process. Every state change is printed as it happens.
import { app } from './app.js'
import { add, crunch, flaky, mul, runaway, xsum } from './tasks.js'
import { chain, chord, group } from '../src/index.js'
import type { StateChange } from '../src/index.js'

const started = Date.now()
const elapsed = () => `${String(Date.now() - started).padStart(5)} ms`
const show = (label: string, change: StateChange) => {
  const detail = change.error ? `${change.error.name}: ${change.error.message}` : change.result === undefined ? '' : JSON.stringify(change.result)
  console.log(`${elapsed()}  ${label.padEnd(24)} ${change.state.padEnd(9)} ${detail}`)
}

function bar(current: number, total: number): string {
  const width = 30
  const done = Math.round((current / total) * width)
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${current}/${total}`
}

const node = app.worker({ concurrency: 2, hostname: 'first-steps@%h' })
await node.start()
console.log(`worker ${node.hostname} up with ${node.options.concurrency} threads on ${app.conf.broker}\n`)

console.log('1. add.delay(4, 4)')
const sum = await add.delay(4, 4)
console.log(`   -> ${await sum.get({ timeout: 5, onMessage: (change) => show('tasks.add', change) })}\n`)

console.log('2. a task that fails twice, then succeeds (ctx.retry with countdown)')
const retried = await flaky.delay('flaky')
for await (const change of retried.changes()) show('tasks.flaky', change)
console.log()

console.log('3. a long task reporting PROGRESS')
const progress = await crunch.delay(25, 20)
for await (const change of progress.changes()) {
  const meta = change.result as { current: number; total: number } | undefined
  if (change.state === 'PROGRESS' && meta) {
    const line = `${elapsed()}  tasks.crunch             PROGRESS  ${bar(meta.current, meta.total)}`
    if (process.stdout.isTTY) process.stdout.write(`\r${line}`)
    else if (meta.current % 5 === 0) console.log(line)
  } else {
    if (process.stdout.isTTY) process.stdout.write('\n')
    show('tasks.crunch', change)
  }
}
console.log()

console.log('4. canvas: a link, a chain, a group and a chord')
const parent = await add.applyAsync([2, 2], { link: mul.s(16) })
const value = await parent.get({ timeout: 5 })
const [child] = await parent.children()
console.log(`   add(2, 2) with link mul.s(16)     -> ${value}, child ${await child.get({ timeout: 5 })}`)
console.log(`   chain(add.s(4, 4), mul.s(8))      -> ${await (await chain(add.s(4, 4), mul.s(8)).applyAsync()).get({ timeout: 5 })}`)
const pairs = Array.from({ length: 10 }, (_, i) => add.s(i, i))
console.log(`   group(add.s(i, i) for i < 10)     -> [${await (await group(pairs).applyAsync()).get({ timeout: 5 })}]`)
console.log(`   chord(add.s(i, i) ..., xsum.s())  -> ${await (await chord(pairs, xsum.s()).applyAsync()).get({ timeout: 5 })}\n`)

console.log('5. a runaway task with a 1 s hard time limit')
const runner = await runaway.delay()
for await (const change of runner.changes()) show('tasks.runaway', change)
console.log(`   the node replaced the thread and keeps serving: add(1, 1) = ${await (await add.delay(1, 1)).get({ timeout: 5 })}\n`)

await node.stop()
await app.close()
console.log(`done in ${elapsed()}`)
