import t from 'tap'
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { Objm } from '@nats-io/obj'
import { BackendError, InvalidArgumentError } from '../../src/errors.js'
import { NatsKvBackend } from '../../src/result/nats-kv/nats-kv-backend.js'
import { taskIdOfKey, taskKey } from '../../src/result/nats-kv/task-key.js'
import { RpcBackend } from '../../src/result/rpc/rpc-backend.js'
import { Latch } from '../../src/testing/latch.js'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { connectNats } from '../../src/transport/nats/connect.js'
import type { Test } from 'tap'
import type { ResultBackend, TaskMeta } from '../../src/result/backend.js'

let server: NatsServer
t.before(async () => {
  server = await startNatsServer()
})
t.teardown(() => server?.cleanup())

let n = 0
const uniqueBucket = () => `it-${process.pid}-${++n}`

/** A backend closed when the test ends. */
function backend<B extends ResultBackend>(t: Test, made: B): B {
  t.teardown(() => made.close())
  return made
}

/** Polls `check` every 50 ms until it returns true; fails after `ms`. */
async function eventually(check: () => Promise<boolean>, ms: number, label: string): Promise<number> {
  const start = Date.now()
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - start
    if (Date.now() - start > ms) throw new Error(`${label}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function bigResult(size: number): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 10)) & 0xff
  return bytes
}

t.test('nats kv backend - a record expires with the bucket TTL', async (t) => {
  const kv = backend(t, new NatsKvBackend({ url: server.url, bucket: uniqueBucket(), resultExpiresMs: 1_000 }))
  await kv.store({ taskId: 'ttl-1', state: 'SUCCESS' })
  const stored = Date.now()
  t.equal((await kv.get('ttl-1'))?.state, 'SUCCESS', 'readable right after the store')
  await eventually(async () => (await kv.get('ttl-1')) === undefined, 5_000, 'record gone')
  const after = Date.now() - stored
  // The server removes expired messages on a timer: a little after the TTL, never before it.
  t.ok(after >= 900, `gone after ${after} ms, not before the 1 s TTL`)
})

t.test('nats kv backend - resultExpires asked for sets the TTL of a bucket made with another; the default leaves it alone', async (t) => {
  const bucket = uniqueBucket()
  // What `celeriac call` without the app does first on a fresh server: the default TTL (1 day).
  await backend(t, new NatsKvBackend({ url: server.url, bucket })).connect()
  const warnings: Error[] = []
  const onWarning = (warning: Error) => void warnings.push(warning)
  process.on('warning', onWarning)
  t.teardown(() => void process.off('warning', onWarning))
  const nc = await connectNats(server.url)
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  const ttl = async () => (await jsm.streams.info(`KV_${bucket}`)).config.max_age / 1e6
  const worker = backend(t, new NatsKvBackend({ url: server.url, bucket, resultExpiresMs: 2_000 }))
  await worker.connect()
  t.equal(await ttl(), 2_000, "the app's resultExpires applies")
  await backend(t, new NatsKvBackend({ url: server.url, bucket })).connect()
  t.equal(await ttl(), 2_000, 'a process with the default leaves it')
  // A second app asking for another TTL: the two would change it back and forth, so it is said.
  await backend(t, new NatsKvBackend({ url: server.url, bucket, resultExpiresMs: 3_000 })).connect()
  t.equal(await ttl(), 3_000)
  await backend(t, new NatsKvBackend({ url: server.url, bucket, resultExpiresMs: 2_000 })).connect()
  await new Promise((resolve) => setImmediate(resolve))
  const said = warnings.filter((w) => (w as { code?: string }).code === 'CELERIAC_RESULT_EXPIRES').map((w) => w.message)
  t.same(said, [
    `the results bucket (stream KV_${bucket}) kept results for 2 s; it now keeps them for 3 s, this app's resultExpires`,
    `the results bucket (stream KV_${bucket}) kept results for 3 s; it now keeps them for 2 s, this app's resultExpires`,
  ], 'a change from another app\'s TTL is said; one from the default (the first) is not')
  await worker.store({ taskId: 'ttl-changed', state: 'SUCCESS' })
  await eventually(async () => (await worker.get('ttl-changed')) === undefined, 6_000, 'expired by the new TTL')
})

t.test('nats kv backend - a 2 MB result goes through the object store', async (t) => {
  const bucket = uniqueBucket()
  const writer = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  const reader = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  const result = bigResult(2 * 1024 * 1024)
  const watched = new Latch<TaskMeta>(1)
  const unwatch = await reader.watch('big-1', (meta) => watched.unlock(meta))
  await writer.store({ taskId: 'big-1', state: 'SUCCESS', result, contentType: 'application/x-msgpack', name: 'tasks.big' })
  await writer.store({ taskId: 'big-1', state: 'SUCCESS', result, contentType: 'application/x-msgpack', name: 'tasks.big' })

  const got = await reader.get('big-1')
  t.equal(got?.result?.byteLength, result.byteLength, 'get: whole result')
  t.ok(got?.result && Buffer.from(got.result).equals(Buffer.from(result)), 'get: same bytes')
  t.same({ ...got, result: undefined }, { taskId: 'big-1', state: 'SUCCESS', contentType: 'application/x-msgpack', name: 'tasks.big', result: undefined }, 'get: no reference leaks out')
  const [seen] = await watched.promise
  unwatch()
  t.ok(seen.result && Buffer.from(seen.result).equals(Buffer.from(result)), 'watch: same bytes')

  // The KV value itself is small: the bytes live in <bucket>-large.
  const nc = await connectNats(server.url)
  t.teardown(() => nc.close())
  const entry = await (await new Kvm(nc).open(bucket)).get('big-1')
  t.ok(entry !== null && entry.length < 1_024, `KV value is ${entry?.length} bytes`)
  const objects = await new Objm(nc).open(`${bucket}-large`)
  t.equal((await objects.info('big-1'))?.size, result.byteLength, 'object holds the result')

  await reader.forget('big-1')
  t.equal(await writer.get('big-1'), undefined, 'forgotten')
  t.equal(await objects.info('big-1').then((info) => (info === null || info.deleted ? null : info)), null, 'object removed with the record')
})

t.test('nats kv backend - a result survives a nats-server restart', async (t) => {
  // A short reconnect wait keeps the test quick (the default waits 2 s between attempts).
  const nc = await connectNats(server.url, { reconnectTimeWait: 50 })
  t.teardown(() => nc.close())
  const kv = backend(t, new NatsKvBackend({ url: server.url, connection: nc, bucket: uniqueBucket() }))
  const result = new Uint8Array([1, 2, 3])
  await kv.store({ taskId: 'durable-1', state: 'SUCCESS', result })
  const reconnected = (async () => {
    for await (const status of nc.status()) if (status.type === 'reconnect') return
  })()
  await server.restart()
  // A request sent on the dead socket would wait out the client's 5 s request timeout.
  await reconnected
  await eventually(async () => (await kv.get('durable-1'))?.state === 'SUCCESS', 10_000, 'record after restart')
  t.same(Array.from((await kv.get('durable-1'))?.result ?? []), [1, 2, 3])
})

t.test('nats kv backend - task ids that are not valid keys are encoded, reversibly', async (t) => {
  const bucket = uniqueBucket()
  const kv = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  const ids = ['user 7:job', 'a..b', '.lead', 'trail.', 'with*star', 'with>gt', 'ünïcødé ✓', '=looks-encoded', 'a/b=c.d_e-f']
  for (const id of ids) {
    t.equal(taskIdOfKey(taskKey(id)), id, `${id}: key decodes back`)
    t.match(taskKey(id), /^[-/=\w]+(\.[-/=\w]+)*$/, `${id}: key is valid`)
  }
  t.equal(new Set(ids.map(taskKey)).size, ids.length, 'no two ids share a key')
  t.equal(taskKey('a/b=c.d_e-f'), 'a/b=c.d_e-f', 'a valid key is used as is')
  t.equal(taskKey('=looks-encoded').startsWith('=') && taskKey('=looks-encoded') !== '=looks-encoded', true, 'an id starting with the mark is encoded')

  const latch = new Latch<string>(ids.length)
  const unwatches = await Promise.all(ids.map((id) => kv.watch(id, (meta) => latch.unlock(meta.taskId))))
  for (const id of ids) await kv.store({ taskId: id, state: 'SUCCESS', name: id })
  t.same((await latch.promise).sort(), [...ids].sort(), 'each watch saw its own id')
  for (const unwatch of unwatches) unwatch()
  for (const id of ids) t.equal((await kv.get(id))?.name, id, `${id}: round trip`)
  await kv.forget('user 7:job')
  t.equal(await kv.get('user 7:job'), undefined, 'forget an encoded id')
})

t.test('nats kv backend - a shared connection stays open after close', async (t) => {
  const nc = await connectNats(server.url)
  t.teardown(() => nc.close())
  // A shared connection is all it needs: no url.
  const kv = new NatsKvBackend({ connection: nc, bucket: uniqueBucket() })
  await kv.store({ taskId: 'shared-1', state: 'SUCCESS' })
  await kv.close()
  t.equal(nc.isClosed(), false, 'connection still open')
  await t.rejects(kv.get('shared-1'), new BackendError('nats backend is closed'))
})

t.test('nats kv backend - a value that is not a task record fails with the bucket and key', async (t) => {
  const bucket = uniqueBucket()
  const kv = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  await kv.connect()
  const nc = await connectNats(server.url)
  t.teardown(() => nc.close())
  await (await new Kvm(nc).open(bucket)).put('garbage-1', new Uint8Array([0xc1]))
  const error = await kv.get('garbage-1').catch((e: unknown) => e)
  t.type(error, BackendError)
  t.match((error as Error).message, `bucket ${bucket}, key garbage-1`)
})

t.test('rpc backend - a record over max_payload: a ready one is sent as a FAILURE saying so, any other refused', async (t) => {
  const rpc = backend(t, new RpcBackend({ url: server.url, prefix: `it-${process.pid}-rpc` }))
  const error = await rpc.store({ taskId: 'big-rpc', state: 'PROGRESS', result: bigResult(2 * 1024 * 1024) }).catch((e: unknown) => e)
  t.type(error, BackendError)
  t.match((error as Error).message, /over the server's max_payload/)
  t.equal(await rpc.get('big-rpc'), undefined, 'nothing cached either')
  // An audit found a caller's get() waiting for ever on a ready record that was never sent.
  await rpc.store({ taskId: 'big-rpc', state: 'SUCCESS', name: 't.big', result: bigResult(2 * 1024 * 1024) })
  const sent = await rpc.get('big-rpc')
  t.match(sent, { taskId: 'big-rpc', state: 'FAILURE', name: 't.big', error: { type: 'BackendError', message: /^the result of task big-rpc is \d+ bytes, over the server's max_payload of \d+; rpc:\/\/ cannot carry it, use the nats:\/\/ result backend$/ } })
  t.equal(sent?.result, undefined, 'without the result')
})

t.test('rpc backend - a record nobody watched is lost; a watcher caches it for get()', async (t) => {
  const prefix = `it-${process.pid}-rpc2`
  const sender = backend(t, new RpcBackend({ url: server.url, prefix }))
  const caller = backend(t, new RpcBackend({ url: server.url, prefix }))
  await sender.store({ taskId: 'lost-1', state: 'SUCCESS' })
  t.equal(await caller.get('lost-1'), undefined, 'sent before anyone watched: gone')
  const done = new Latch<TaskMeta>(1)
  const unwatch = await caller.watch('kept-1', (meta) => done.unlock(meta))
  await sender.store({ taskId: 'kept-1', state: 'SUCCESS', result: new Uint8Array([9]) })
  await done.promise
  unwatch()
  t.same(Array.from((await caller.get('kept-1'))?.result ?? []), [9], 'get after the watch ended reads the cache')
})

t.test('nats kv backend - a small record stored after a large one is watched after it', async (t) => {
  const bucket = uniqueBucket()
  const kv = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  const latch = new Latch<TaskMeta>(3)
  const unwatch = await kv.watch('order-1', (meta) => latch.unlock(meta))
  await kv.store({ taskId: 'order-1', state: 'PROGRESS', result: bigResult(1_500_000) })
  await kv.store({ taskId: 'order-1', state: 'STARTED' })
  await kv.store({ taskId: 'order-1', state: 'SUCCESS', result: new Uint8Array([1]) })
  const seen = await latch.promise
  unwatch()
  t.same(seen.map((m) => m.state), ['PROGRESS', 'STARTED', 'SUCCESS'])
  t.equal(seen[0].result?.byteLength, 1_500_000, 'the large one resolved')
})

t.test('nats kv backend - a value on a watched key that is not a record is a warning, not a crash', async (t) => {
  const bucket = uniqueBucket()
  const kv = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  const warnings: Error[] = []
  const onWarning = (warning: Error) => warnings.push(warning)
  process.on('warning', onWarning)
  t.teardown(() => void process.off('warning', onWarning))
  const latch = new Latch<TaskMeta>(1)
  const unwatch = await kv.watch('noise-1', (meta) => latch.unlock(meta))
  const nc = await connectNats(server.url)
  t.teardown(() => nc.close())
  await (await new Kvm(nc).open(bucket)).put('noise-1', new TextEncoder().encode('not msgpack of a record'))
  await kv.store({ taskId: 'noise-1', state: 'SUCCESS' })
  t.same((await latch.promise).map((m) => m.state), ['SUCCESS'], 'the next record still arrives')
  unwatch()
  await eventually(async () => warnings.length > 0, 2_000, 'warning emitted')
  t.type(warnings[0], BackendError)
  t.match(warnings[0].message, `bucket ${bucket}, key noise-1`)
})

t.test('nats kv backend - options are checked', async (t) => {
  const url = 'nats://127.0.0.1:1'
  t.throws(() => new NatsKvBackend({ url, bucket: 'a.b' }), new InvalidArgumentError('options.bucket must be a non-empty string of letters, digits, "-" and "_"'))
  t.throws(() => new NatsKvBackend({ url, prefix: 'a..b' }), new InvalidArgumentError('options.prefix must be dot-separated tokens of letters, digits, "-", "_", "/" and "="'))
  t.throws(() => new NatsKvBackend({ url, resultExpiresMs: -1 }), new InvalidArgumentError('options.resultExpiresMs must be a non-negative number of milliseconds'))
  t.equal(new NatsKvBackend({ url, resultExpiresMs: Infinity }).resultExpiresMs, 0, 'Infinity means never')
  t.throws(() => new RpcBackend({ url, prefix: 'a.*' }), new InvalidArgumentError('options.prefix must be dot-separated tokens of letters, digits, "-", "_", "/" and "="'))
  t.throws(() => new RpcBackend({ url, cacheSize: 1.5 }), new InvalidArgumentError('options.cacheSize must be a non-negative integer'))
  const kv = new NatsKvBackend({ url, bucket: 'x' })
  await t.rejects(kv.store({ taskId: '', state: 'SUCCESS' }), new InvalidArgumentError('meta.taskId must be a non-empty string'))
  await t.rejects(kv.connect(), BackendError, 'no server: a BackendError')
})

t.test('rpc backend - the get() cache is bounded', async (t) => {
  const rpc = backend(t, new RpcBackend({ url: server.url, prefix: `it-${process.pid}-rpc3`, cacheSize: 2 }))
  for (const id of ['c1', 'c2', 'c3']) await rpc.store({ taskId: id, state: 'SUCCESS' })
  t.equal(await rpc.get('c1'), undefined, 'oldest dropped')
  t.equal((await rpc.get('c3'))?.state, 'SUCCESS', 'newest kept')
  await rpc.close()
  await t.rejects(rpc.get('c3'), new BackendError('rpc backend is closed'))
})

t.test('nats kv backend - watches are subscriptions on the republished subject, with no server-side consumer', async (t) => {
  const bucket = uniqueBucket()
  const kv = new NatsKvBackend({ url: server.url, bucket })
  const seen: string[] = []
  const watches = await Promise.all(Array.from({ length: 200 }, (_, i) => kv.watch(`w-${i}`, (meta) => seen.push(meta.taskId))))
  const nc = await connectNats(server.url)
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  t.equal((await jsm.streams.info(`KV_${bucket}`)).state.consumer_count, 0, '200 open watches, no consumer')
  await kv.store({ taskId: 'w-7', state: 'SUCCESS' })
  await eventually(async () => seen.length === 1, 5_000, 'the watch on w-7 saw its record')
  t.same(seen, ['w-7'])
  watches.forEach((unwatch) => unwatch())
  await kv.store({ taskId: 'w-7', state: 'FAILURE' })
  await kv.store({ taskId: 'w-8', state: 'SUCCESS' })
  const probe = await kv.watch('probe', (meta) => seen.push(meta.taskId))
  await kv.store({ taskId: 'probe', state: 'SUCCESS' })
  await eventually(async () => seen.includes('probe'), 5_000, 'a later watch still works')
  probe()
  t.same(seen, ['w-7', 'probe'], 'nothing after unwatch')
  await kv.close()
})

t.test('nats kv backend - a ready record pushed to its sender needs no read', async (t) => {
  const bucket = uniqueBucket()
  const sender = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  const worker = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  await Promise.all([sender.connect(), worker.connect()])
  const replyTo = sender.push.replyTo
  t.type(replyTo, 'string', 'a connected backend has a reply subject')

  // Pushed before get(): kept, and handed over at once.
  sender.push.expect('push-early')
  await worker.store({ taskId: 'push-early', state: 'STARTED', replyTo })
  await worker.store({ taskId: 'push-early', state: 'SUCCESS', result: new Uint8Array([7]), replyTo })
  // The record is purged behind the push's back: what get() receives can only be the push.
  const nc = await connectNats(server.url)
  t.teardown(() => nc.close())
  const kv = await new Kvm(nc).open(bucket)
  await kv.purge('push-early')
  const early = new Latch<TaskMeta>(1)
  await eventually(async () => sender.push.awaitReady('push-early', (meta) => early.unlock(meta), () => t.fail('not lost')) !== undefined || early.items.length > 0, 5_000, 'push arrived')
  const [got] = await early.promise
  t.match(got, { taskId: 'push-early', state: 'SUCCESS' }, 'the ready record, not the STARTED one')
  t.same(Array.from(got.result ?? []), [7])
  t.equal(sender.push.awaitReady('push-early', () => {}, () => {}), undefined, 'handed over once; a second get() reads')

  // get() before the push: waits for it.
  sender.push.expect('push-late')
  const late = new Latch<TaskMeta>(1)
  t.type(sender.push.awaitReady('push-late', (meta) => late.unlock(meta), () => t.fail('not lost')), 'function')
  await worker.store({ taskId: 'push-late', state: 'FAILURE', error: { type: 'Error', code: 'ERR_TASK', message: 'no' }, replyTo })
  t.match((await late.promise)[0], { taskId: 'push-late', state: 'FAILURE', error: { message: 'no' } })

  t.equal(sender.push.awaitReady('never-sent', () => {}, () => {}), undefined, 'a task this process did not send: watch and read')
})

t.test('nats kv backend - a pushed large result is read from the object store', async (t) => {
  const bucket = uniqueBucket()
  const sender = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  const worker = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  await Promise.all([sender.connect(), worker.connect()])
  const result = bigResult(1536 * 1024)
  sender.push.expect('push-big')
  const got = new Latch<TaskMeta>(1)
  sender.push.awaitReady('push-big', (meta) => got.unlock(meta), () => t.fail('not lost'))
  await worker.store({ taskId: 'push-big', state: 'SUCCESS', result, replyTo: sender.push.replyTo })
  const [meta] = await got.promise
  t.ok(meta.result && Buffer.from(meta.result).equals(Buffer.from(result)), 'same bytes')
  t.notOk('resultRef' in meta, 'no reference leaks out')
})

t.test('nats kv backend - a disconnect sends waiting pushes back to watch and read', async (t) => {
  const nc = await connectNats(server.url, { reconnectTimeWait: 50 })
  t.teardown(() => nc.close())
  const bucket = uniqueBucket()
  const sender = backend(t, new NatsKvBackend({ url: server.url, connection: nc, bucket }))
  await sender.connect()
  sender.push.expect('push-lost')
  sender.push.expect('push-lost-unwaited')
  const lost = new Latch(1)
  sender.push.awaitReady('push-lost', () => t.fail('nothing was pushed'), () => lost.unlock())
  const reconnected = (async () => {
    for await (const status of nc.status()) if (status.type === 'reconnect') return
  })()
  await server.restart()
  await lost.promise
  t.pass('the waiting get() was told to watch and read')
  t.equal(sender.push.awaitReady('push-lost-unwaited', () => {}, () => {}), undefined, 'a task sent before the disconnect is no longer counted on')
  await reconnected
  // After the reconnect, tasks sent from then on are counted on again.
  const worker = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  sender.push.expect('push-after')
  const after = new Latch<TaskMeta>(1)
  sender.push.awaitReady('push-after', (meta) => after.unlock(meta), () => t.fail('not lost'))
  await worker.store({ taskId: 'push-after', state: 'SUCCESS', replyTo: sender.push.replyTo })
  t.equal((await after.promise)[0].state, 'SUCCESS')
})

t.test('nats kv backend - store() waits for the stream: a write it refuses fails with the server\'s reason', async (t) => {
  const bucket = uniqueBucket()
  const kv = backend(t, new NatsKvBackend({ url: server.url, bucket }))
  await kv.store({ taskId: 'stored-1', state: 'SUCCESS' })
  // A full stream that discards new messages refuses the next write in its PubAck; a core
  // publish with a PING/PONG flush would have reported it stored.
  const nc = await connectNats(server.url)
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(`KV_${bucket}`)
  await jsm.streams.update(`KV_${bucket}`, { ...info.config, max_msgs: 1, discard: DiscardPolicy.New })
  const error = await kv.store({ taskId: 'refused-1', state: 'SUCCESS' }).then(() => undefined, (e: unknown) => e)
  t.ok(error instanceof BackendError, 'a BackendError')
  t.match((error as Error)?.message, /^nats backend: cannot store task refused-1 \(bucket it-\d+-\d+, key refused-1\): maximum messages exceeded/)
  t.equal(await kv.get('refused-1'), undefined, 'nothing stored')
  t.equal((await kv.get('stored-1'))?.state, 'SUCCESS', 'the earlier record is kept')
})
