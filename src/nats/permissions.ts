/**
 * Least-privilege NATS permissions for each role of a celeriac deployment, generated from the
 * same names the transport and the result backends use, so they cannot drift apart.
 * @module
 */
import { Names, WORKERS } from '../transport/nats/names.js'
import { CONTROL_PATTERN, INSPECT_SUBJECT } from '../client/control.js'
import { eventPattern } from '../events/events.js'
import { natsTransportDefaults } from '../transport/nats/nats-transport.js'
import { InvalidArgumentError } from '../errors.js'
import { checkKnownKeys, closestKey } from '../util/closest.js'

/**
 * Who a NATS user is in a deployment:
 * - `client`: sends tasks and reads their results; no control, no revoke, no purge, no writes
 *   to the results bucket.
 * - `worker`: consumes its queues, stores results, sends events, answers control, dead-letters.
 * - `beat`: sends its periodic tasks and keeps its lease and last runs in its bucket.
 * - `monitor`: reads events, results, dead letters, queue figures (depth, in flight, age of the
 *   oldest message) and beat's last runs, and sends the inspect commands only.
 */
export type NatsRole = 'client' | 'worker' | 'beat' | 'monitor'
const ROLES: readonly NatsRole[] = ['client', 'worker', 'beat', 'monitor']

/** Options of {@link natsPermissions}: the names the deployment uses. */
export interface NatsPermissionsOptions {
  /** The transport prefix of streams, buckets and subjects (`NatsTransport` `prefix`). Default `celeriac`. */
  namespace?: string
  /**
   * The queues the role sends to or consumes. NATS wildcards match whole tokens only, so a
   * stream name cannot be matched by its prefix: each queue's stream is named. Default `['celery']`.
   */
  queues?: readonly string[]
  /** The results bucket (`NatsKvBackend` `bucket`). Default `<namespace>-results` (`celeriac-results`). */
  resultBucket?: string
  /** The result backend the role's app uses: `rpc` needs the rpc subjects instead of the bucket. Default `nats`. */
  backend?: 'nats' | 'rpc'
  /**
   * The user's inbox prefix (`natsInboxPrefix`), which its subscriptions are limited to.
   * Default `_INBOX`. Give each client its own under `_INBOX.` (`_INBOX.alice`): workers
   * reply and push results to any `_INBOX.>` subject.
   */
  inboxPrefix?: string
}

const OPTION_KEYS = ['namespace', 'queues', 'resultBucket', 'backend', 'inboxPrefix'] as const satisfies readonly (keyof NatsPermissionsOptions)[]

/** A nats-server `permissions` block, as data: `JSON.stringify` it into the server config. */
export interface NatsPermissions {
  publish: { allow: string[] }
  subscribe: { allow: string[] }
}

const api = '$JS.API'

/**
 * The least-privilege NATS permissions of a role, as a nats-server `permissions` block.
 * Streams and buckets must exist before a `client`, `beat` or `monitor` connects: workers
 * (or an admin) create them.
 * @example
 * import { natsPermissions } from 'celeriac/nats'
 * const block = `permissions: ${JSON.stringify(natsPermissions('client', { queues: ['celery', 'mail'] }))}`
 */
export function natsPermissions(role: NatsRole, options: NatsPermissionsOptions = {}): NatsPermissions {
  // Written by hand into a server's config: a typo must not grant less, or nothing, unseen.
  if (!ROLES.includes(role)) throw new InvalidArgumentError(`natsPermissions: unknown role ${JSON.stringify(role)}${closestKey(String(role), ROLES) ? ` (did you mean ${JSON.stringify(closestKey(String(role), ROLES))}?)` : ''}; the roles: ${ROLES.join(', ')}`)
  checkKnownKeys(options, OPTION_KEYS, (key, near) => new InvalidArgumentError(`natsPermissions: unknown option ${key}${near ? ` (did you mean ${near}?)` : ''}; the options: ${OPTION_KEYS.join(', ')}`))
  const names = new Names(options.namespace ?? natsTransportDefaults.prefix)
  const queues = options.queues ?? ['celery']
  const results = options.resultBucket ?? names.resultsBucket
  const beatBucket = names.beatBucket
  const inbox = options.inboxPrefix ?? '_INBOX'
  const rpc = options.backend === 'rpc'
  const kv = (bucket: string) => `KV_${bucket}`
  const queueStreams = queues.map((queue) => names.queueStream(queue))
  const queueSubjects = queues.map((queue) => names.queueSubject(queue))
  const streamInfo = (...streams: string[]) => streams.map((stream) => `${api}.STREAM.INFO.${stream}`)
  const manage = (...streams: string[]) => streams.flatMap((stream) => [`${api}.STREAM.INFO.${stream}`, `${api}.STREAM.CREATE.${stream}`, `${api}.STREAM.UPDATE.${stream}`])
  // An ordered consumer: a KV watch, a read of the dead letters.
  const watch = (...streams: string[]) => streams.flatMap((stream) => [`${api}.CONSUMER.CREATE.${stream}.>`, `${api}.CONSUMER.DELETE.${stream}.>`, `$JS.FC.${stream}.>`])
  // The last value of a key named in the subject: reading a key needs its name (a task id),
  // while STREAM.MSG.GET would read any message by sequence, so only workers have it on buckets.
  const read = (...buckets: string[]) => buckets.map((bucket) => `${api}.DIRECT.GET.${kv(bucket)}.$KV.${bucket}.>`)
  // Queue figures (queueDepth, queueStats: worker metrics, the dashboard) read messages of the
  // queue streams by sequence: the Not-Before header of each unsettled one tells delayed from
  // running, and the next undelivered one gives the age of the oldest ready message. Stream info
  // alone cannot: its first_ts is the oldest stored message, often a running or delayed one, so
  // a long task or a countdown would read as a backlog. So the roles that read queue figures
  // get MSG.GET on their queue streams, which lets them read task messages (arguments
  // included) that task events carry to them anyway.
  const readQueues = queueStreams.map((stream) => `${api}.STREAM.MSG.GET.${stream}`)
  const sharedConsumer = queueStreams.map((stream) => `${api}.CONSUMER.INFO.${stream}.${WORKERS}`)
  const events = names.busSubject(eventPattern('*'))
  const resultBuckets = rpc ? [] : [kv(results)]
  const rpcSubjects = [`${names.prefix}.rpc.*`, `${names.prefix}.rpc-reply.*`]

  switch (role) {
    case 'client':
      return {
        publish: {
          allow: [
            `${api}.INFO`,
            ...streamInfo(names.deadLetterStream, kv(names.topologyBucket), ...resultBuckets, ...queueStreams),
            ...sharedConsumer,
            ...watch(kv(names.topologyBucket)),
            ...(rpc ? [] : read(results)),
            ...queueSubjects,
          ],
        },
        subscribe: { allow: [`${inbox}.>`, ...(rpc ? rpcSubjects : [`_kvr.${results}.*`])] },
      }
    case 'beat':
      return {
        publish: {
          allow: [
            `${api}.INFO`,
            ...streamInfo(names.deadLetterStream, kv(names.topologyBucket), ...resultBuckets, ...queueStreams),
            ...manage(kv(beatBucket)),
            ...sharedConsumer,
            ...watch(kv(names.topologyBucket)),
            ...read(beatBucket),
            `$KV.${beatBucket}.>`,
            ...queueSubjects,
          ],
        },
        subscribe: { allow: [`${inbox}.>`] },
      }
    case 'monitor':
      return {
        publish: {
          allow: [
            `${api}.INFO`,
            // The names of every stream (not their messages): the dashboard finds the queues in them.
            `${api}.STREAM.NAMES`,
            ...streamInfo(names.deadLetterStream, kv(names.topologyBucket), kv(results), kv(beatBucket), ...queueStreams),
            ...sharedConsumer,
            ...readQueues,
            ...watch(kv(names.topologyBucket), names.deadLetterStream),
            ...read(results, beatBucket),
            names.busSubject(INSPECT_SUBJECT),
          ],
        },
        subscribe: { allow: [`${inbox}.>`, events, `_kvr.${results}.*`] },
      }
    case 'worker': {
      const buckets = [names.topologyBucket, names.revokedBucket, names.rateBucket, results, `${results}-chords`]
      const large = `OBJ_${results}-large`
      return {
        publish: {
          allow: [
            `${api}.INFO`,
            ...manage(names.deadLetterStream, ...buckets.map(kv), large, ...queueStreams),
            ...queueStreams.flatMap((stream) => [`${api}.CONSUMER.CREATE.${stream}.>`, `${api}.CONSUMER.INFO.${stream}.${WORKERS}`, `${api}.CONSUMER.MSG.NEXT.${stream}.${WORKERS}`, `$JS.ACK.${stream}.>`]),
            ...readQueues,
            ...watch(kv(names.topologyBucket), kv(names.revokedBucket), large),
            ...read(...buckets),
            ...buckets.map((bucket) => `${api}.STREAM.MSG.GET.${kv(bucket)}`),
            `${api}.DIRECT.GET.${large}.>`,
            `${api}.STREAM.MSG.GET.${large}`,
            `${api}.STREAM.PURGE.${large}`,
            ...buckets.filter((bucket) => bucket !== names.revokedBucket).map((bucket) => `$KV.${bucket}.>`),
            `$O.${results}-large.>`,
            `_kvr.${results}.>`,
            ...queueSubjects,
            names.deadLetterSubject('>'),
            events,
            ...rpcSubjects,
            // Replies to control requests and results pushed to their senders' inboxes.
            '_INBOX.>',
          ],
        },
        subscribe: { allow: [`${inbox}.>`, names.busSubject(CONTROL_PATTERN), `_kvr.${results}.>`] },
      }
    }
  }
}

/** A role's permissions as nats-server config text: `permissions: { ... }`, to put in a user's entry. */
export function natsPermissionsConfig(role: NatsRole, options: NatsPermissionsOptions = {}): string {
  const { publish, subscribe } = natsPermissions(role, options)
  const list = (subjects: string[]) => subjects.map((subject) => `      ${JSON.stringify(subject)}`).join('\n')
  return `permissions: {\n  publish: {\n    allow: [\n${list(publish.allow)}\n    ]\n  }\n  subscribe: {\n    allow: [\n${list(subscribe.allow)}\n    ]\n  }\n}`
}
