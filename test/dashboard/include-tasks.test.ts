import t from 'tap'
import { app } from '../fixtures/default-name-app.js'

// Review: async-apply answered 404 for every task of an app whose tasks are in its include
// list (the repo's own actors/app.ts is one): a dashboard process imports only the app's
// module. It now imports the include list on the first name it does not know.
t.test('async-apply finds a task defined in a module of the app\'s include list', async (t) => {
  const handler = app.dashboard()
  t.teardown(async () => {
    await handler.close()
    await app.close()
  })
  t.notOk(app.tasks.has('default-name.shout'), 'not imported yet')
  const send = (name: string) => handler.fetch(new Request(`http://127.0.0.1:5555/api/task/async-apply/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"args": ["hi"]}' }))
  const sent = await send('default-name.shout')
  t.equal(sent.status, 200)
  t.match(await sent.json(), { state: 'PENDING' })
  t.equal((await send('default-name.shuot')).status, 404, 'a name that is in no module is still a 404')
})
