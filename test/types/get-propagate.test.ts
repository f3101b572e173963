// Type-level tests of get({ propagate: false }): `tsc --noEmit -p tsconfig.json` (CI's type
// check) compiles this file. TS consumer audit: it was typed Promise<R> while it resolves to the
// task's error, so `n.toFixed()` compiled on an Error and failed at run time.
import t from 'tap'
import { BackendError, group, TimeoutError, type GetOptions } from '../../src/index.js'
import { add, app, decline } from '../fixtures/app.js'

const node = app.worker({ concurrency: 1 })
t.before(() => node.start())
t.teardown(async () => {
  await node.stop()
  await app.close()
})

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
const assertType = <T extends true>(_: T) => {}

t.test('get({ propagate: false }) is typed as the value or the error it resolves to', async (t) => {
  const sum = await add.delay(1, 2)
  const value = await sum.get({ propagate: false, timeout: 5 })
  assertType<Equals<typeof value, number | Error>>(true)
  // @ts-expect-error it may be the error: narrow first
  void (() => value.toFixed())
  t.equal(value, 3)
  const failure = await (await decline.delay(5)).get({ propagate: false, timeout: 5 })
  t.match(failure, { name: 'PaymentDeclined', message: /insufficient funds|declined/ }, 'resolves to the error')
  t.type(failure, Error)

  const ok = await (await add.delay(1, 1)).get({ timeout: 5 })
  assertType<Equals<typeof ok, number>>(true)
  const propagating = (await add.delay(1, 1)).get({ propagate: true })
  assertType<Equals<typeof propagating, Promise<number>>>(true)
  t.equal(await propagating, 2)

  // Review: options typed GetOptions (passed through a wrapper) keep the type they had.
  const passed = (options: GetOptions) => sum.get(options)
  assertType<Equals<ReturnType<typeof passed>, Promise<number>>>(true)
})

t.test("a group's get({ propagate: false }): each member's value or its error, position by position", async (t) => {
  const results = await group(add.s(2, 2), decline.s(5)).delay()
  const values = await results.get({ propagate: false, timeout: 5 })
  assertType<Equals<typeof values, [number | Error, Error]>>(true)
  t.equal(values[0], 4)
  t.match(values[1], { name: 'PaymentDeclined' })
  // TS consumer audit: members were AsyncResult<any> | GroupResult<any>.
  const first = await results.results[0].get({ timeout: 5 })
  assertType<Equals<typeof first, number>>(true)
  t.equal(first, 4)
  const strict = await results.join({ timeout: 5 }).catch((error: unknown) => error)
  t.match(strict, { name: 'PaymentDeclined' }, 'join propagates by default')
})

t.test("an error class's code is its own literal, so a switch on it narrows (TS consumer audit)", async (t) => {
  const timeout = new TimeoutError('late')
  assertType<Equals<typeof timeout.code, 'ERR_TIMEOUT'>>(true)
  const describe = (error: TimeoutError | BackendError) => {
    switch (error.code) {
      case 'ERR_TIMEOUT': return 'timeout'
      case 'ERR_BACKEND': return 'backend'
    }
  }
  assertType<Equals<ReturnType<typeof describe>, 'timeout' | 'backend'>>(true)
  t.equal(describe(timeout), 'timeout')
  t.equal(describe(new BackendError('down')), 'backend')
})
