/**
 * Cluster-wide rate limits on memory://: nodes in one process share a broker, as nodes on a
 * NATS server do (see nats-rate-limits.test.ts for real processes).
 */
import t from 'tap'
import { obeysInterval } from '../helpers/spacing.js'
import type { AsyncResult } from '../../src/index.js'
import { app, both, global, legacy, legacyGlobal, slow, warnings } from '../fixtures/rate-app.js'
import { lines, tempDir } from '../helpers/files.js'

t.teardown(() => Promise.all([app.close(), legacy.close()]))

/** Start times (epoch ms, sorted) and hostnames of the runs recorded in `file`. */
function runs(file: string): { at: number; host: string }[] {
  return lines(file)
    .map((line) => {
      const [at, host] = line.split(' ')
      return { at: Number(at), host: host.split('@')[0] }
    })
    .sort((a, b) => a.at - b.at)
}

function getAll(results: AsyncResult<string>[]): Promise<string[]> {
  return Promise.all(results.map((r) => r.get({ timeout: 15 })))
}

t.test('global rate limit - two nodes on one broker share it: starts are one interval apart', async (t) => {
  const nodes = [app.worker({ concurrency: 2, queues: ['rl-share', 'rl-share-1'], hostname: 'share-1@%h' }), app.worker({ concurrency: 2, queues: ['rl-share', 'rl-share-2'], hostname: 'share-2@%h' })]
  await Promise.all(nodes.map((node) => node.start()))
  t.teardown(() => Promise.all(nodes.map((node) => node.stop())))
  const file = `${tempDir(t)}/share`
  // One run on each node first, recorded elsewhere: a cold first run starts late and would shorten the gap after it.
  await getAll(await Promise.all(['rl-share-1', 'rl-share-2'].map((queue) => global.applyAsync([`${file}-warm`], { queue }))))
  await getAll(await Promise.all(Array.from({ length: 8 }, () => global.applyAsync([file], { queue: 'rl-share' }))))
  const seen = runs(file)
  t.equal(seen.length, 8)
  const spacing = obeysInterval(seen.map((r) => r.at), 100)
  t.ok(spacing.ok, `at most 10/s across both nodes: ${spacing.detail}`)
  t.same([...new Set(seen.map((r) => r.host))].sort(), ['share-1', 'share-2'], 'both nodes ran tasks')
})

t.test('global rate limit - with rateLimit too, both hold: 5/s per node, 20/s across nodes', async (t) => {
  const nodes = [app.worker({ concurrency: 2, queues: ['rl-both', 'rl-both-1'], hostname: 'both-1@%h' }), app.worker({ concurrency: 2, queues: ['rl-both', 'rl-both-2'], hostname: 'both-2@%h' })]
  await Promise.all(nodes.map((node) => node.start()))
  t.teardown(() => Promise.all(nodes.map((node) => node.stop())))
  const file = `${tempDir(t)}/both`
  await getAll(await Promise.all(['rl-both-1', 'rl-both-2'].map((queue) => both.applyAsync([`${file}-warm`], { queue }))))
  await getAll(await Promise.all(Array.from({ length: 8 }, () => both.applyAsync([file], { queue: 'rl-both' }))))
  const seen = runs(file)
  const overall = obeysInterval(seen.map((r) => r.at), 50)
  t.ok(overall.ok, `at most 20/s across nodes: ${overall.detail}`)
  for (const host of ['both-1', 'both-2']) {
    const own = obeysInterval(seen.filter((r) => r.host === host).map((r) => r.at), 200)
    t.ok(own.ok, `at most 5/s on ${host}: ${own.detail}`)
  }
})

t.test('global rate limit - workerDisableRateLimits turns it off', async (t) => {
  app.conf.update({ workerDisableRateLimits: true })
  t.teardown(() => void app.conf.update({ workerDisableRateLimits: false }))
  const node = app.worker({ concurrency: 4, queues: ['rl-off'], hostname: 'off@%h' })
  await node.start()
  t.teardown(() => node.stop())
  const file = `${tempDir(t)}/off`
  await getAll(await Promise.all(Array.from({ length: 5 }, () => global.applyAsync([file], { queue: 'rl-off' }))))
  const seen = runs(file).map((r) => r.at)
  t.ok(seen[4] - seen[0] < 300, `5 runs took ${seen[4] - seen[0]} ms (10/s would take 400)`)
})

t.test('global rate limit - a stop gives tasks waiting for their slot back to the queue at once', async (t) => {
  const node = app.worker({ concurrency: 1, prefetch: 3, queues: ['rl-stop'], hostname: 'stop@%h' })
  await node.start()
  const file = `${tempDir(t)}/stop`
  const results = await Promise.all(Array.from({ length: 3 }, () => slow.applyAsync([file], { queue: 'rl-stop' })))
  t.equal(await results[0].get({ timeout: 10 }), node.hostname, 'the first runs at once')
  // 2/m: the other two wait 30 and 60 s for their slots.
  const transport = await app.transport()
  for (let i = 0; i < 100 && (await transport.depth('rl-stop')) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(await transport.depth('rl-stop'), 0, 'the node took both waiting tasks')
  const stopping = Date.now()
  await node.stop()
  t.ok(Date.now() - stopping < 5_000, `stopped in ${Date.now() - stopping} ms, not after the waits`)
  t.equal(await transport.depth('rl-stop'), 2, 'both are back in the queue')
  t.equal(runs(file).length, 1, 'and did not run')
  await transport.purge('rl-stop')
})

t.test('global rate limit - a transport without reserveRate: the limit holds per node, with one warning', async (t) => {
  const node = legacy.worker({ concurrency: 2, queues: ['rl-legacy'], hostname: 'legacy@%h' })
  await node.start()
  t.teardown(() => node.stop())
  const file = `${tempDir(t)}/legacy`
  await legacyGlobal.applyAsync([`${file}-warm`], { queue: 'rl-legacy' }).then((r) => r.get({ timeout: 10 }))
  await getAll(await Promise.all(Array.from({ length: 4 }, () => legacyGlobal.applyAsync([file], { queue: 'rl-legacy' }))))
  const spacing = obeysInterval(runs(file).map((r) => r.at), 100)
  t.ok(spacing.ok, `10/s on the node: ${spacing.detail}`)
  t.same(warnings, ['the transport cannot share a rate limit between nodes: globalRateLimit is enforced per node'], 'one warning for five tasks')
})
