import t from 'tap'
import { TaskState, WorkerLostError } from '../../src/index.js'
import { app, sleepy, lateSleepy } from '../fixtures/app.js'
import { lines, tempDir } from '../helpers/files.js'

t.teardown(() => app.close())

async function started(file: string, count = 1) {
  while (lines(file).filter((l) => l.startsWith('start')).length < count) await new Promise((resolve) => setTimeout(resolve, 10))
}

t.test('shutdown - a warm stop lets the running task finish', async (t) => {
  const node = app.worker({ concurrency: 1, queues: ['warm'], hostname: 'warm@%h' })
  await node.start()
  const file = `${tempDir(t)}/warm`
  const result = await sleepy.applyAsync([300, file], { queue: 'warm' })
  await started(file)
  await node.stop()
  t.equal(await result.state(), TaskState.SUCCESS)
  t.same(lines(file).map((l) => l.split(' ')[0]), ['start', 'end'])
})

t.test('shutdown - a cold stop gives an acksLate task back and another node runs it', async (t) => {
  const first = app.worker({ concurrency: 1, queues: ['cold'], hostname: 'cold-1@%h' })
  await first.start()
  const file = `${tempDir(t)}/cold`
  const result = await lateSleepy.applyAsync([400, file], { queue: 'cold' })
  await started(file)
  await first.stop({ cold: true })
  t.not(await result.state(), TaskState.SUCCESS, 'the first node did not finish it')
  const second = app.worker({ concurrency: 1, queues: ['cold'], hostname: 'cold-2@%h' })
  await second.start()
  t.teardown(() => second.stop())
  t.equal(await result.get({ timeout: 10 }), 400)
  t.same(lines(file).map((l) => l.split(' ')[0]), ['start', 'start', 'end'], 'ran again on the second node')
})

t.test('shutdown - a cold stop fails an early-acked running task with WorkerLostError', async (t) => {
  const node = app.worker({ concurrency: 1, queues: ['cold-early'], hostname: 'cold-early@%h' })
  await node.start()
  const file = `${tempDir(t)}/early`
  const result = await sleepy.applyAsync([400, file], { queue: 'cold-early' })
  await started(file)
  await node.stop({ cold: true })
  await t.rejects(result.get({ timeout: 5 }), WorkerLostError)
})
