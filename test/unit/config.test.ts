import { availableParallelism } from 'node:os'
import t from 'tap'
import { Conf, censorUrl, validateConfig } from '../../src/config/conf.js'
import { DEFAULTS } from '../../src/config/defaults.js'
import type { ConfigValues } from '../../src/config/defaults.js'
import { ConfigError } from '../../src/errors.js'
import { configFromEnv, envName } from '../../src/config/env.js'
import { createApp } from '../../src/app/app.js'

const KEYS = Object.keys(DEFAULTS) as (keyof ConfigValues)[]

t.test('config - every default is readable as a property', async (t) => {
  const conf = new Conf()
  for (const key of KEYS) t.same(conf[key], DEFAULTS[key], key)
  t.equal(conf.taskAcksLate, false)
  t.equal(conf.taskDefaultQueue, 'celery')
  t.equal(conf.taskMaxRetries, 3)
  t.equal(conf.taskDefaultRetryDelay, 180)
  t.equal(conf.workerConcurrency, availableParallelism())
  t.equal(conf.workerTasksPerThread, 32)
  t.equal(conf.workerPrefetchMultiplier, null, 'the deprecated alias is unset')
  t.equal(conf.broker, 'memory://')
  t.equal(conf.taskTimeLimit, null)
  t.same(Object.keys(conf).sort(), [...KEYS].sort(), 'keys are enumerable own properties')
  t.same(conf.toJSON(), DEFAULTS)
  t.equal(conf.revision, 0)
})

t.test('config - constructor values override defaults and are validated', async (t) => {
  const conf = new Conf({ taskAcksLate: true, workerConcurrency: 2, taskSoftTimeLimit: '10s' })
  t.equal(conf.taskAcksLate, true)
  t.equal(conf.workerConcurrency, 2)
  t.equal(conf.taskSoftTimeLimit, '10s')
  t.equal(conf.taskTrackStarted, false)
  t.equal(conf.revision, 0, 'construction is not an update')
  t.throws(() => new Conf({ workerConcurrency: 0 }), new ConfigError('config.workerConcurrency must be a positive integer, got 0'))
})

t.test('config - properties are read-only', async (t) => {
  const conf = new Conf()
  t.throws(() => {
    ;(conf as { taskAcksLate: boolean }).taskAcksLate = true
  }, TypeError)
  t.equal(conf.taskAcksLate, false)
})

t.test('config - update applies values and bumps the revision', async (t) => {
  const conf = new Conf()
  t.equal(conf.update({ taskAcksLate: true }), conf, 'returns this')
  t.equal(conf.taskAcksLate, true)
  t.equal(conf.revision, 1)
  conf.update({ workerConcurrency: 3, taskTimeLimit: 60 }).update({ taskTimeLimit: null })
  t.equal(conf.workerConcurrency, 3)
  t.equal(conf.taskTimeLimit, null)
  t.equal(conf.taskAcksLate, true, 'earlier updates stay')
  t.equal(conf.revision, 3)
})

t.test('config - toJSON is a copy', async (t) => {
  const conf = new Conf()
  const json = conf.toJSON() as { taskAcksLate: boolean }
  json.taskAcksLate = true
  t.equal(conf.taskAcksLate, false)
})

t.test('config - a failed update changes nothing', async (t) => {
  const conf = new Conf()
  t.throws(() => conf.update({ taskAcksLate: true, workerConcurrency: 0 }), new ConfigError('config.workerConcurrency must be a positive integer, got 0'))
  t.equal(conf.taskAcksLate, false, 'the valid key before the bad one is not applied')
  t.equal(conf.workerConcurrency, DEFAULTS.workerConcurrency)
  t.equal(conf.revision, 0)
  t.throws(() => conf.update({ taskAcksLate: true, taskAckLate: true } as Partial<ConfigValues>), ConfigError)
  t.equal(conf.taskAcksLate, false)
  t.equal(conf.revision, 0)
})

t.test('config - unknown keys name the closest known key', async (t) => {
  const conf = new Conf()
  const unknown = (partial: Record<string, unknown>) => () => conf.update(partial as Partial<ConfigValues>)
  t.throws(unknown({ taskAckLate: true }), new ConfigError('unknown config key "taskAckLate" (did you mean "taskAcksLate"?)'))
  t.throws(unknown({ workerconcurrency: 2 }), new ConfigError('unknown config key "workerconcurrency" (did you mean "workerConcurrency"?)'), 'case is ignored')
  t.throws(unknown({ brokr: 'memory://' }), new ConfigError('unknown config key "brokr" (did you mean "broker"?)'))
  // Review: an inbox prefix whose replies workers would refuse (see isReplySubject) made every send fail.
  t.throws(() => new Conf({ natsInboxPrefix: 'acct.bus' }), { name: 'ConfigError', message: /^config\.natsInboxPrefix must be a prefix whose second token is not q, dlq or bus, nor _kvr/ })
  t.throws(() => new Conf({ natsInboxPrefix: '_kvr' }), { name: 'ConfigError' })
  t.doesNotThrow(() => new Conf({ natsInboxPrefix: '_INBOX.alice' }))
  // Celery audit: task_always_eager got a bare "unknown config key".
  for (const key of ['task_always_eager', 'CELERY_ALWAYS_EAGER', 'taskAlwaysEager']) {
    t.throws(unknown({ [key]: true }), { name: 'ConfigError', message: `unknown config key "${key}": celeriac has no eager mode: task.call(...args) runs a task here, now, through the runner a worker uses, and a memory:// app with app.worker() in the same process runs tasks sent with delay() (see "Testing helpers" in the README)` })
  }
  // Celery's names, which no edit distance finds.
  t.throws(unknown({ broker_url: 'nats://' }), new ConfigError('unknown config key "broker_url" (did you mean "broker"?)'))
  t.throws(unknown({ result_backend: 'nats://' }), new ConfigError('unknown config key "result_backend" (did you mean "backend"?)'))
  t.throws(unknown({ somethingElse: 1 }), new ConfigError('unknown config key "somethingElse"'), 'no hint when nothing is close')
  t.throws(() => new Conf({ concurrency: 1 } as Partial<ConfigValues>), ConfigError)
})

t.test('config - keys inherited from Object.prototype are unknown keys', async (t) => {
  for (const key of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
    const conf = new Conf()
    t.throws(() => conf.update(JSON.parse(`{"${key}": 1}`)), new ConfigError(`unknown config key "${key}"`), key)
    t.equal(conf.revision, 0, `${key} changes nothing`)
  }
})

t.test('config - bad values name the key', async (t) => {
  const bad: [Record<string, unknown>, string][] = [
    [{ workerConcurrency: 0 }, 'config.workerConcurrency must be a positive integer, got 0'],
    [{ workerConcurrency: 1.5 }, 'config.workerConcurrency must be a positive integer, got 1.5'],
    [{ workerPrefetchMultiplier: '4' }, 'config.workerPrefetchMultiplier must be a positive integer, got "4"'],
    [{ workerTasksPerThread: 0 }, 'config.workerTasksPerThread must be a positive integer, got 0'],
    [{ workerMaxTasksPerChild: 0 }, 'config.workerMaxTasksPerChild must be a positive integer, got 0'],
    [{ taskMaxRetries: -1 }, 'config.taskMaxRetries must be a non-negative integer, got -1'],
    [{ taskAcksLate: 'yes' }, 'config.taskAcksLate must be a boolean, got "yes"'],
    [{ taskDefaultQueue: 1 }, 'config.taskDefaultQueue must be a string, got 1'],
    [{ broker: 'localhost:4222' }, 'config.broker must be a URL such as memory:// or nats://host:4222, got "localhost:4222"'],
    [{ backend: null }, 'config.backend must be a URL such as memory:// or nats://host:4222, got null'],
    [{ taskSerializer: 'pickle' }, `config.taskSerializer must be 'msgpack' or 'json', got "pickle"`],
    [{ include: ['a', 1] }, 'config.include must be an array of strings, got ["a",1]'],
    [{ resultExpires: -1 }, `config.resultExpires must be a non-negative number of seconds or a duration string like '10s', got -1`],
    [{ taskTimeLimit: '10 minutes' }, `config.taskTimeLimit must be a non-negative number of seconds or a duration string like '10s', got "10 minutes"`],
    [{ taskDefaultRateLimit: 'fast' }, `config.taskDefaultRateLimit must be a rate like '10/s', '10/m' or '10/h', got "fast"`],
    [{ taskRoutes: 'celery' }, 'config.taskRoutes must be an object of routes by task name or a list of [pattern, target] pairs, got "celery"'],
    [{ taskRoutes: [['a.*']] }, 'config.taskRoutes must be an object of routes by task name or a list of [pattern, target] pairs, got [["a.*"]]'],
    [{ taskQueues: {} }, 'config.taskQueues must be an array of queue declarations, got {}'],
    [{ taskQueues: [{ name: 'a' }, { exchange: 'x' }] }, 'config.taskQueues[1].name must be a string, got {"exchange":"x"}'],
    [{ taskQueues: [{ name: 'a', exchangeType: 'headers' }] }, `config.taskQueues[0].exchangeType must be 'direct', 'topic' or 'fanout', got "headers"`],
  ]
  for (const [partial, message] of bad) {
    t.throws(() => new Conf().update(partial as Partial<ConfigValues>), new ConfigError(message), message)
  }
})

t.test('config - good values of every kind are accepted', async (t) => {
  const conf = new Conf().update({
    broker: 'nats://127.0.0.1:4222',
    backend: 'rpc://',
    include: ['./tasks.js'],
    resultExpires: '1d',
    taskSerializer: 'json',
    taskTimeLimit: 0,
    taskSoftTimeLimit: '500ms',
    taskDefaultRateLimit: '10/m',
    taskMaxRetries: null,
    workerMaxTasksPerChild: 100,
    taskRoutes: [[/^feed\./, { queue: 'feeds' }]],
    taskQueues: [{ name: 'feeds', exchange: 'media', exchangeType: 'topic', routingKey: 'media.#' }],
  })
  t.equal(conf.revision, 1)
  t.equal(conf.taskDefaultRateLimit, '10/m')
  t.equal(conf.taskMaxRetries, null)
  t.same(validateConfig({ taskAcksLate: undefined }), {}, 'undefined means not given')
})

t.test('config - an undefined value in an update leaves the key as it was', async (t) => {
  const conf = new Conf().update({ workerConcurrency: undefined })
  t.equal(conf.workerConcurrency, DEFAULTS.workerConcurrency, 'update')
  t.equal(new Conf({ taskMaxRetries: undefined }).taskMaxRetries, DEFAULTS.taskMaxRetries, 'constructor')
})

t.test('config - censorUrl hides passwords and tokens', async (t) => {
  t.equal(censorUrl('nats://user:pass@host:4222'), 'nats://user:**@host:4222')
  t.equal(censorUrl('nats://token@host:4222'), 'nats://**@host:4222')
  t.equal(censorUrl('redis://:secret@host'), 'redis://:**@host')
  t.equal(censorUrl('nats://host:4222'), 'nats://host:4222', 'no credentials, unchanged')
  t.equal(censorUrl('memory://'), 'memory://')
  t.equal(censorUrl('nats://host:4222/path@x'), 'nats://host:4222/path@x', 'an @ after the host is not a credential')
  t.equal(censorUrl('NATS://u:p@h'), 'NATS://u:**@h')
})

t.test('config - humanize lists non-defaults with credentials censored', async (t) => {
  t.equal(new Conf().humanize(), '', 'nothing but defaults: empty')
  const conf = new Conf({ broker: 'nats://user:pass@host:4222', backend: 'nats://token@host:4222', taskAcksLate: true })
  conf.update({ taskRoutes: [[/^feed\./, { queue: 'feeds' }]], taskTimeLimit: '5m' })
  t.equal(
    conf.humanize(),
    [
      'broker: nats://user:**@host:4222',
      'backend: nats://**@host:4222',
      'taskRoutes: [["/^feed\\\\./",{"queue":"feeds"}]]',
      'taskAcksLate: true',
      'taskTimeLimit: "5m"',
    ].join('\n'),
  )
  t.notMatch(conf.humanize(), /pass|token/)
})

t.test('config - humanize withDefaults lists every key', async (t) => {
  const text = new Conf({ broker: 'nats://u:p@h' }).humanize({ withDefaults: true })
  const lines = text.split('\n')
  t.equal(lines.length, KEYS.length)
  t.same(lines.map((line) => line.slice(0, line.indexOf(':'))), KEYS)
  t.ok(lines.includes('broker: nats://u:**@h'))
  t.ok(lines.includes('taskDefaultQueue: "celery"'))
  t.ok(lines.includes('taskTimeLimit: null'))
  t.ok(lines.includes('include: []'))
})

t.test('config - brokerTransportOptions pass through and print censored', async (t) => {
  const conf = new Conf({ broker: 'nats://alice:secret@127.0.0.1:4222', brokerTransportOptions: { token: 's3cret', tls: { caFile: '/etc/ca.pem' } } })
  t.same(conf.brokerTransportOptions, { token: 's3cret', tls: { caFile: '/etc/ca.pem' } })
  const printed = conf.humanize()
  t.match(printed, /broker: nats:\/\/alice:\*\*@127\.0\.0\.1:4222/)
  t.match(printed, /brokerTransportOptions: \{ token: \*\*, tls: \*\* \}/)
  t.notMatch(printed, /secret|s3cret|ca\.pem/)
  t.throws(() => conf.update({ brokerTransportOptions: 'tls' as never }), { name: 'ConfigError', message: 'config.brokerTransportOptions must be an object, got "tls"' })
})

t.test('config - CELERIAC_* environment variables, parsed by the kind of each key', async (t) => {
  t.same(configFromEnv({
    CELERIAC_BROKER_URL: 'nats://u:p@h:4222',
    CELERIAC_RESULT_BACKEND: 'rpc://',
    CELERIAC_TASK_ACKS_LATE: 'yes',
    CELERIAC_WORKER_CONCURRENCY: '3',
    CELERIAC_TASK_TIME_LIMIT: 'none',
    CELERIAC_TASK_SOFT_TIME_LIMIT: '1m',
    CELERIAC_INCLUDE: './a.js, ./b.js',
    CELERIAC_TASK_ROUTES: '{"t.*": {"queue": "q"}}',
    CELERIAC_TASK_DEFAULT_QUEUE: '123',
    PATH: '/bin',
  }), {
    broker: 'nats://u:p@h:4222', backend: 'rpc://', taskAcksLate: true, workerConcurrency: 3, taskTimeLimit: null,
    taskSoftTimeLimit: '1m', include: ['./a.js', './b.js'], taskRoutes: { 't.*': { queue: 'q' } }, taskDefaultQueue: '123',
  })
  t.equal(envName('taskAcksLate'), 'CELERIAC_TASK_ACKS_LATE')
  t.throws(() => configFromEnv({ CELERIAC_TASK_ACKS_LAET: 'true' }), { name: 'ConfigError', message: 'unknown environment variable CELERIAC_TASK_ACKS_LAET (did you mean CELERIAC_TASK_ACKS_LATE?)' })
  t.throws(() => configFromEnv({ CELERIAC_TASK_ACKS_LATE: 'maybe' }), { message: 'CELERIAC_TASK_ACKS_LATE must be true or false, got "maybe"' })
  t.throws(() => configFromEnv({ CELERIAC_TASK_QUEUES: '[oops' }), { message: 'CELERIAC_TASK_QUEUES must be JSON, got "[oops"' })
})

t.test('config - precedence: module, then env, then explicit updates; bad values name the key', async (t) => {
  const app = createApp({ name: 'precedence', config: { taskAcksLate: false, workerConcurrency: 2 } })
  app.configFromEnv({ CELERIAC_TASK_ACKS_LATE: 'true', CELERIAC_WORKER_CONCURRENCY: '4' })
  app.configFromObject({ workerConcurrency: 8 })
  t.equal(app.conf.taskAcksLate, true)
  t.equal(app.conf.workerConcurrency, 8)
  t.throws(() => app.configFromObject({ workerConcurency: 1 } as never), { message: 'unknown config key "workerConcurency" (did you mean "workerConcurrency"?)' })
  t.throws(() => app.configFromEnv({ CELERIAC_WORKER_CONCURRENCY: '0' }), { message: 'CELERIAC_WORKER_CONCURRENCY: config.workerConcurrency must be a positive integer, got 0' })
  const resolved = app.resolvedOptions(app.tasks.get(app.task('p.t', () => 1).name)!)
  t.equal(resolved.acksLate, true, 'task options follow config changes')
  app.configFromObject({ taskAcksLate: false })
  t.equal(app.resolvedOptions(app.tasks.get('p.t')!).acksLate, false)
})

t.test('config - censored(): plain data for inspect conf, credentials hidden', async (t) => {
  const conf = new Conf({ broker: 'nats://user:secret@h:4222', taskRoutes: [[/^t\./, { queue: 'q' }]], brokerTransportOptions: { token: 'x' } })
  const shown = conf.censored()
  t.equal(shown.broker, 'nats://user:**@h:4222')
  t.equal(shown.brokerTransportOptions, '{ token: ** }')
  t.same(shown.taskRoutes, [['/^t\\./', { queue: 'q' }]])
})
