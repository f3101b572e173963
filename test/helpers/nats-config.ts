import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNatsServer, type NatsServer } from '../../src/testing/nats-server.js'
import { natsPermissionsConfig, type NatsRole } from '../../src/nats/index.js'
import type { Logger } from '../../src/util/logger.js'
import type { Test } from 'tap'

/**
 * Starts a nats-server (JetStream, 127.0.0.1, free port) with `config` as its config file,
 * stopped and removed when `t` ends.
 * @example await configuredServer(t, 'authorization { token: "s3cret" }')
 */
export async function configuredServer(t: Test, config: string): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-nats-conf-'))
  const file = join(dir, 'nats.conf')
  writeFileSync(file, config)
  const server = await startNatsServer({ configFile: file })
  t.teardown(async () => {
    await server.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })
  return server
}

/**
 * A nats-server whose users hold the published permissions of their roles (password `pw`), and
 * the broker URL of each user: `[user, role, options]`, as `natsPermissionsConfig` takes them.
 */
export async function serverWithRoles(t: Test, users: ReadonlyArray<readonly [string, NatsRole, { inboxPrefix?: string }]>): Promise<{ server: NatsServer; as: (user: string) => string }> {
  const config = `authorization { users: [\n${users.map(([user, role, options]) => `{ user: ${user}, password: pw, ${natsPermissionsConfig(role, options)} }`).join('\n')}\n] }\n`
  const server = await configuredServer(t, config)
  return { server, as: (user) => server.url.replace('nats://', `nats://${user}:pw@`) }
}

/** A logger that keeps its warnings and errors: a refusal is logged as one naming the subject. */
export function keepingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return { warnings, debug() {}, info() {}, warn: (message) => void warnings.push(message), error: (message) => void warnings.push(message) }
}

/** A nats-server config string literal. */
export const q = (value: string) => JSON.stringify(value)

/** An operator, one account with JetStream, and one user's creds file: what a server in operator mode needs. */
export interface OperatorSetup {
  /** The server config lines: operator JWT, memory resolver with the account preloaded. */
  config: string
  /** A `.creds` file of a user of the account. */
  credsFile: string
}

/** Builds an operator -> account -> user chain with @nats-io/jwt and writes the user's creds file in `dir`. */
export async function operatorSetup(dir: string, permissions: { pub?: { allow?: string[] }; sub?: { allow?: string[] } } = {}): Promise<OperatorSetup> {
  const { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } = await import('@nats-io/jwt')
  const operator = createOperator()
  const account = createAccount()
  // JetStream in operator mode needs a system account.
  const system = createAccount()
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator })
  const user = createUser()
  const operatorJwt = await encodeOperator('celeriac-test', operator)
  // Limits left out of an account JWT are 0: no connections at all.
  const jetstream = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1, conn: -1, subs: -1, data: -1, payload: -1, imports: -1, exports: -1, leaf: -1, wildcards: true }
  const accountJwt = await encodeAccount('APP', account, { limits: jetstream }, { signer: operator })
  const userJwt = await encodeUser('app-user', user, account, permissions)
  const credsFile = join(dir, 'app-user.creds')
  writeFileSync(credsFile, fmtCreds(userJwt, user))
  return {
    config: [
      `operator: ${q(operatorJwt)}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver: MEMORY',
      `resolver_preload: {\n  ${system.getPublicKey()}: ${q(systemJwt)}\n  ${account.getPublicKey()}: ${q(accountJwt)}\n}`,
      '',
    ].join('\n'),
    credsFile,
  }
}
