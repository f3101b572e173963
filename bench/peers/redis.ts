// The Redis server BullMQ and Celery run on in the comparison bench: one fresh server per run,
// on 127.0.0.1 and a free port, with persistence off (no RDB snapshots, no AOF).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onPath, type Requirement } from './contender.js'
import { freePort, startProcess } from './processes.js'

export const REDIS: Requirement = { what: 'redis-server', available: () => onPath('redis-server'), install: 'apt-get install -y redis-server' }

/** Runs `body` with a fresh Redis started for it, and stops and removes it afterwards. */
export async function withRedis<T>(body: (port: number) => Promise<T>): Promise<T> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-bench-redis-'))
  const redis = await startProcess('redis-server', 'redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], { ready: /Ready to accept connections/ })
  try {
    return await body(port)
  } finally {
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
