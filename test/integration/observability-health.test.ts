import t from 'tap'
import { natsServerAvailable, startNatsServer } from '../../src/testing/nats-server.js'

if (!natsServerAvailable()) {
  t.plan(0, 'nats-server is not installed')
} else {
  t.test('probes - readiness turns off when the broker goes away and back on after it returns', async (t) => {
    const server = await startNatsServer()
    t.teardown(() => server.cleanup())
    process.env.CELERIAC_BROKER_URL = server.url
    process.env.CELERIAC_RESULT_BACKEND = server.url
    const { app, add } = await import('../fixtures/obs-nats-app.js')
    const node = app.worker({ concurrency: 1, hostname: 'probes@test', health: { port: 0, host: '127.0.0.1' }, tracing: false })
    await node.start()
    t.teardown(async () => {
      await node.stop({ cold: true })
      await app.close()
    })
    const probe = async (path: string) => {
      const response = await fetch(`${node.endpoints.health}${path}`)
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    }
    const until = async (path: string, status: number) => {
      const deadline = Date.now() + 15_000
      for (;;) {
        const answer = await probe(path)
        if (answer.status === status) return answer
        if (Date.now() > deadline) throw new Error(`${path} still answers ${answer.status} (${JSON.stringify(answer.body)}), waited for ${status}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }

    t.same(await probe('/livez'), { status: 200, body: { alive: true, state: 'running' } })
    t.same(await probe('/readyz'), { status: 200, body: { ready: true, checks: { running: true, consuming: true, threads: true, broker: true } } })
    t.equal(await (await add.delay(2, 3)).get({ timeout: 10 }), 5)

    await server.stop()
    const down = await until('/readyz', 503)
    t.same(down.body, { ready: false, checks: { running: true, consuming: true, threads: true, broker: false } }, 'only the broker check fails')
    t.equal((await probe('/livez')).status, 200, 'still alive: an orchestrator should not restart it for a broker outage')

    await server.restart()
    await until('/readyz', 200)
    t.equal(await (await add.delay(4, 5)).get({ timeout: 15 }), 9, 'it consumes again after the reconnect')

    await node.stop()
    t.equal((await fetch(`${node.endpoints.health}/livez`).catch(() => undefined))?.status, undefined, 'the probe server closes with the node')
  })
}
