import t from 'tap'
import { DEFAULTS } from '../../src/config/defaults.js'
import type { ConfigValues } from '../../src/config/defaults.js'
import { Router } from '../../src/routing/router.js'

const router = (conf: Partial<ConfigValues> = {}) => new Router({ ...DEFAULTS, ...conf })
const toQueue = (queue: string) => ({ exchange: '', routingKey: queue, queue })

t.test('router - with nothing configured, tasks go to the default queue', async (t) => {
  t.same(router().route('t.add', {}), toQueue('celery'))
  t.same(router({ taskDefaultQueue: 'default' }).route('t.add', {}), toQueue('default'))
})

t.test('router - the call queue or exchange wins over everything', async (t) => {
  const r = router({ taskRoutes: { 't.add': { queue: 'math' } } })
  t.same(r.route('t.add', { queue: 'urgent' }, { queue: 'task-queue' }), toQueue('urgent'))
  t.same(r.route('t.add', { exchange: 'media', routingKey: 'img.png' }), { exchange: 'media', routingKey: 'img.png' })
  t.same(r.route('t.add', { exchange: 'media', queue: 'images' }), { exchange: 'media', routingKey: 'images' }, 'the queue name is the routing key')
  t.same(r.route('t.add', { exchange: 'media' }), { exchange: 'media', routingKey: '' })
  t.same(r.route('t.add', { exchange: '', queue: 'q' }), toQueue('q'), "exchange '' is the default exchange")
  t.same(r.route('t.add', {}), toQueue('math'), 'later plain calls still follow taskRoutes')
})

t.test('router - taskRoutes by exact name', async (t) => {
  const r = router({ taskRoutes: { 't.add': { queue: 'math' }, 't.pub': { exchange: 'news', routingKey: 'news.sport' } } })
  t.same(r.route('t.add', {}), toQueue('math'))
  t.same(r.route('t.pub', {}), { exchange: 'news', routingKey: 'news.sport' })
  t.same(r.route('t.addition', {}), toQueue('celery'), 'exact means exact')
  t.same(r.route('t.ad', {}), toQueue('celery'))
})

t.test('router - taskRoutes by glob', async (t) => {
  const r = router({ taskRoutes: { 'feed.*': { queue: 'feeds' }, 'a+b(c)?.*': { queue: 'special' }, '*.urgent': { queue: 'urgent' } } })
  t.same(r.route('feed.import', {}), toQueue('feeds'))
  t.same(r.route('feed.tasks.import', {}), toQueue('feeds'), '* spans dots')
  t.same(r.route('feed.', {}), toQueue('feeds'))
  t.same(r.route('feedx', {}), toQueue('celery'), 'the dot is literal')
  t.same(r.route('news.feed.import', {}), toQueue('celery'), 'anchored at the start')
  t.same(r.route('a+b(c)?.x', {}), toQueue('special'), 'regex characters are literal')
  t.same(r.route('aab(c)?.x', {}), toQueue('celery'))
  t.same(r.route('abc.x', {}), toQueue('celery'))
  t.same(r.route('mail.urgent', {}), toQueue('urgent'))
  t.same(r.route('mail.urgent.not', {}), toQueue('celery'), 'anchored at the end')
})

t.test('router - taskRoutes as a list with RegExp, first match wins', async (t) => {
  const r = router({
    taskRoutes: [
      [/^feed\.(import|export)$/, { queue: 'io' }],
      ['feed.*', { queue: 'feeds' }],
      ['feed.import', { queue: 'never' }],
      [/urgent/, { queue: 'urgent', priority: 9 }],
    ],
  })
  t.same(r.route('feed.import', {}), toQueue('io'))
  t.same(r.route('feed.export', {}), toQueue('io'))
  t.same(r.route('feed.refresh', {}), toQueue('feeds'))
  t.same(r.route('feed.urgent', {}), toQueue('feeds'), 'an earlier glob beats a later RegExp')
  t.same(r.route('mail.urgent.now', {}), { ...toQueue('urgent'), priority: 9 }, 'RegExps are not anchored unless written so')
})

t.test('router - in object form, the first key that matches wins', async (t) => {
  const r = router({ taskRoutes: { 'feed.*': { queue: 'feeds' }, 'feed.import': { queue: 'import' } } })
  t.same(r.route('feed.import', {}), toQueue('feeds'))
})

t.test('router - a route target with only a routing key uses it as the queue', async (t) => {
  t.same(router({ taskRoutes: { 't.add': { routingKey: 'math' } } }).route('t.add', {}), toQueue('math'))
})

t.test("router - the task's own options come after taskRoutes", async (t) => {
  const r = router({ taskRoutes: { 'feed.*': { queue: 'feeds' } } })
  t.same(r.route('t.add', {}, { queue: 'math' }), toQueue('math'))
  t.same(r.route('t.pub', {}, { exchange: 'news', routingKey: 'news.sport' }), { exchange: 'news', routingKey: 'news.sport' })
  t.same(r.route('t.pri', {}, { queue: 'math', priority: 4 }), { ...toQueue('math'), priority: 4 })
  t.same(r.route('feed.x', {}, { queue: 'math' }), toQueue('feeds'), 'a matching route wins')
  t.same(r.route('t.key', {}, { routingKey: 'math' }), toQueue('celery'), 'a routing key alone does not route')
})

t.test('router - queues declared in taskQueues with an exchange', async (t) => {
  const r = router({
    taskDefaultQueue: 'default',
    taskQueues: [
      { name: 'images', exchange: 'media', exchangeType: 'topic', routingKey: 'media.image' },
      { name: 'video', exchange: 'media', exchangeType: 'topic' },
      { name: 'plain' },
      { name: 'default', exchange: 'tasks' },
    ],
    taskRoutes: { 't.img': { queue: 'images' }, 't.vid': { queue: 'video' }, 't.plain': { queue: 'plain' }, 't.key': { queue: 'images', routingKey: 'media.image.png' } },
  })
  t.same(r.route('t.img', {}), { exchange: 'media', routingKey: 'media.image' }, "the queue's binding key")
  t.same(r.route('t.vid', {}), { exchange: 'media', routingKey: 'video' }, 'no binding key: the queue name')
  t.same(r.route('t.key', {}), { exchange: 'media', routingKey: 'media.image.png' }, "the target's routing key wins")
  t.same(r.route('t.plain', {}), toQueue('plain'), 'no exchange: the default exchange')
  t.same(r.route('t.other', {}), { exchange: 'tasks', routingKey: 'default' }, 'the default queue too')
  t.same(r.route('t.any', { queue: 'images' }), { exchange: 'media', routingKey: 'media.image' }, 'a call queue too')
})

t.test('router - priority passes through from the call and from the target', async (t) => {
  const r = router({ taskRoutes: { 't.hi': { queue: 'hi', priority: 7 } } })
  t.same(r.route('t.add', { priority: 3 }), { ...toQueue('celery'), priority: 3 })
  t.same(r.route('t.hi', {}), { ...toQueue('hi'), priority: 7 })
  t.same(r.route('t.hi', { priority: 1 }), { ...toQueue('hi'), priority: 1 }, "the call's priority wins")
  t.same(r.route('t.add', { queue: 'q', priority: 0 }), { ...toQueue('q'), priority: 0 }, 'zero is a priority')
  t.same(r.route('t.pub', { exchange: 'news', routingKey: 'k', priority: 2 }), { exchange: 'news', routingKey: 'k', priority: 2 })
})

t.test("router - caching does not leak a call's priority into later calls", async (t) => {
  const r = router({ taskRoutes: { 't.hi': { queue: 'hi', priority: 7 } } })
  t.same(r.route('t.add', { priority: 9 }), { ...toQueue('celery'), priority: 9 }, 'first call, not cached yet')
  t.same(r.route('t.add', {}), toQueue('celery'))
  t.same(r.route('t.add', { priority: 5 }), { ...toQueue('celery'), priority: 5 }, 'cached')
  t.same(r.route('t.add', {}), toQueue('celery'))
  t.same(r.route('t.hi', { priority: 1 }), { ...toQueue('hi'), priority: 1 })
  t.same(r.route('t.hi', {}), { ...toQueue('hi'), priority: 7 }, "the route's own priority comes back")
})

t.test('router - calls with their own queue are not cached', async (t) => {
  const r = router()
  t.same(r.route('t.add', { queue: 'q1' }), toQueue('q1'))
  t.same(r.route('t.add', {}), toQueue('celery'))
  t.same(r.route('t.add', { queue: 'q2' }), toQueue('q2'))
  t.same(r.route('t.add', {}), toQueue('celery'))
})

t.test('router - the config is read once, at construction', async (t) => {
  const routes: Record<string, { queue: string }> = { 't.add': { queue: 'math' } }
  const r = router({ taskRoutes: routes })
  routes['t.sub'] = { queue: 'math' }
  t.same(r.route('t.sub', {}), toQueue('celery'))
})

t.test("router - the task's priority applies without a task queue", async (t) => {
  t.same(router().route('t.add', {}, { priority: 3 }), { ...toQueue('celery'), priority: 3 }, 'priority')
})

t.test('router - the cache does not hide task defaults given later', async (t) => {
  const r = router()
  t.same(r.route('t.add', {}), toQueue('celery'))
  t.same(r.route('t.add', {}, { queue: 'math' }), toQueue('math'), 'task queue')
})
