import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A nats-server started for a test. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** The JetStream store directory (kept across `restart`). */
  readonly storeDir: string
  /** Stops the server (SIGTERM, waits for it to exit). */
  stop(): Promise<void>
  /** Stops and starts it again on the same port and store. */
  restart(): Promise<void>
  /** Stops it and removes its store. */
  cleanup(): Promise<void>
}

/** Options of {@link startNatsServer}. */
export interface StartNatsServerOptions {
  port?: number
  storeDir?: string
  /** A nats-server config file (`-c`): auth, TLS, permissions, accounts. Address, port and store still come from the other options. */
  configFile?: string
  /** The config file sets JetStream up itself (`jetstream { store_dir }`): no `-js -sd` on the command line, which would clash with it. */
  jetstreamFromConfig?: boolean
  /** More command-line arguments, after the others. */
  args?: readonly string[]
}

/** Whether `nats-server` is on the PATH. */
export function natsServerAvailable(): boolean {
  return spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status === 0
}

/**
 * Starts a real nats-server with JetStream on 127.0.0.1, on a free port (or `port`), with a
 * temporary file store, and resolves once it accepts connections.
 * @example
 * const server = await startNatsServer()
 * const app = createApp({ broker: server.url, backend: server.url })
 * // ...
 * await server.cleanup()
 */
export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServer> {
  if (!natsServerAvailable()) {
    throw new Error('nats-server is not on the PATH: install it (Debian: apt-get install -y nats-server)')
  }
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'celeriac-nats-'))
  let port = options.port ?? -1
  let child: ChildProcess

  const start = async () => {
    const portsDir = mkdtempSync(join(tmpdir(), 'celeriac-nats-ports-'))
    const config = options.configFile === undefined ? [] : ['-c', options.configFile]
    const jetstream = options.jetstreamFromConfig === true ? [] : ['-js', '-sd', storeDir]
    const args = [...config, '-a', '127.0.0.1', '-p', String(port), ...jetstream, '--ports_file_dir', portsDir, ...(options.args ?? [])]
    child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk))
    const portsFile = join(portsDir, `nats-server_${child.pid}.ports`)
    const deadline = Date.now() + 10_000
    let ports: { nats?: string[] } | undefined
    // The server writes the file in place: it can exist before its JSON is complete.
    while (ports?.nats?.[0] === undefined) {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}: ${stderr}`)
      if (Date.now() > deadline) throw new Error(`nats-server did not start within 10 s: ${stderr}`)
      try {
        ports = existsSync(portsFile) ? (JSON.parse(readFileSync(portsFile, 'utf8')) as { nats?: string[] }) : undefined
      } catch {
        ports = undefined
      }
      if (ports?.nats?.[0] === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    port = Number(new URL(ports.nats[0]).port)
    rmSync(portsDir, { recursive: true, force: true })
  }

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    await exited
  }

  await start()
  return {
    get url() {
      return `nats://127.0.0.1:${port}`
    },
    get port() {
      return port
    },
    storeDir,
    stop,
    restart: async () => {
      await stop()
      await start()
    },
    cleanup: async () => {
      await stop()
      rmSync(storeDir, { recursive: true, force: true })
    },
  }
}
