import t from 'tap'
import { errors } from '@nats-io/transport-node'
import { permissionError } from '../../src/transport/nats/permission-watch.js'

// Docs audit: a client or beat started before any worker was refused creating the results
// bucket, and the error said to grant it to the user; only workers should create streams.
t.test('a refusal says what to do: start a worker for a stream not made yet; set the inbox prefix for an inbox', async (t) => {
  const refused = (operation: 'publish' | 'subscription', subject: string) => permissionError(new errors.PermissionViolationError('refused', operation, subject)).message
  t.match(refused('publish', '$JS.API.STREAM.CREATE.KV_celeriac-results'), /: only workers create streams and buckets: start a worker on this broker first, whose user may \(see docs\/production\.md\), rather than granting it to this user$/)
  t.match(refused('subscription', '_INBOX.abc.*'), /: replies come to this connection's inbox prefix: set natsInboxPrefix/)
  t.match(refused('publish', '$JS.API.STREAM.PURGE.CELERIAC_Q_celery'), /: grant it to the user, or use a user whose role allows this/)
})
