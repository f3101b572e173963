import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs'
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
  /** Stops it (SIGTERM, or `signal`: SIGKILL for a crash) and starts it again on the same port and store. */
  restart(signal?: NodeJS.Signals): Promise<void>
  /** Stops it and removes its store. */
  cleanup(): Promise<void>
  /**
   * Suspends the process (SIGSTOP) until `resume()` (SIGCONT): a server that hangs, as a stalled
   * or overloaded one does, with its connections still open, rather than one that is gone.
   * Resolves once every thread of the process has stopped (read from /proc on Linux).
   */
  freeze(): Promise<{ resume(): void }>
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

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    // A frozen server (see freeze) would hold the signal until it runs again.
    child.kill('SIGCONT')
    child.kill(signal)
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
    stop: () => stop(),
    restart: async (signal?: NodeJS.Signals) => {
      await stop(signal)
      await start()
    },
    cleanup: async () => {
      await stop()
      rmSync(storeDir, { recursive: true, force: true })
    },
    freeze: async () => {
      child.kill('SIGSTOP')
      // Each thread stops when it takes the signal: until the last one has, the server may still answer.
      while (!stopped(child.pid!)) await new Promise((resolve) => setTimeout(resolve, 1))
      return { resume: () => void child.kill('SIGCONT') }
    },
  }
}

/** One member of a {@link NatsCluster}. */
export interface ClusterNode {
  /** The server's name in the cluster (`n1`, `n2`...): what stream info calls the leader. */
  readonly name: string
  /** `nats://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** Whether the process is running. */
  readonly running: boolean
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same ports and store; resolves once it accepts connections. */
  start(): Promise<void>
}

/** A JetStream cluster of nats-server processes started for a test. */
export interface NatsCluster {
  readonly nodes: readonly ClusterNode[]
  /** Every node's client URL in one broker URL: `nats://127.0.0.1:a,127.0.0.1:b,...`. */
  readonly url: string
  /** The node of that name (as stream info reports a leader). */
  node(name: string): ClusterNode
  /** Stops every node and removes their stores. */
  cleanup(): Promise<void>
}

/** A port free right now on 127.0.0.1 (the OS picks it; a later bind by another process could race, rarely). */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once `port` accepts a TCP connection, or throws after `ms`. */
async function waitForPort(port: number, child: ChildProcess, stderr: () => string, ms = 10_000): Promise<void> {
  const { connect } = await import('node:net')
  const deadline = Date.now() + ms
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}: ${stderr()}`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port} within ${ms} ms: ${stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Starts `size` nats-server processes (default 3) with JetStream, clustered by routes, on
 * free ports of 127.0.0.1 with a temporary store each, and resolves once JetStream has a
 * meta leader (streams can be created). Each node can be killed and started again on the same
 * ports and store, as an operator's restart would.
 * @example
 * const cluster = await startNatsCluster(3)
 * const app = createApp({ broker: cluster.url, backend: cluster.url })
 * await cluster.nodes[0].kill()
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  if (!natsServerAvailable()) {
    throw new Error('nats-server is not on the PATH: install it (Debian: apt-get install -y nats-server)')
  }
  const ports = new Set<number>()
  while (ports.size < 2 * size) ports.add(await freePort())
  const clientPorts = [...ports].slice(0, size)
  const routePorts = [...ports].slice(size)
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',')
  const nodes = clientPorts.map((port, i) => {
    const name = `n${i + 1}`
    const storeDir = mkdtempSync(join(tmpdir(), `celeriac-nats-${name}-`))
    let child: ChildProcess | undefined
    const running = () => child !== undefined && child.exitCode === null && child.signalCode === null
    const node = {
      name,
      url: `nats://127.0.0.1:${port}`,
      port,
      storeDir,
      get running() {
        return running()
      },
      async start() {
        if (running()) return
        const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir, '--server_name', name, '--cluster_name', 'celeriac-test', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes]
        const started = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
        child = started
        let stderr = ''
        started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk))
        await waitForPort(port, started, () => stderr)
      },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        const current = child
        if (current === undefined || !running()) return
        const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()))
        current.kill(signal)
        await exited
      },
    }
    return node
  })
  await Promise.all(nodes.map((n) => n.start()))
  const url = `nats://${clientPorts.map((p) => `127.0.0.1:${p}`).join(',')}`
  const cluster: NatsCluster = {
    nodes,
    url,
    node(name) {
      const found = nodes.find((n) => n.name === name)
      if (found === undefined) throw new Error(`no node named ${name} in this cluster (${nodes.map((n) => n.name).join(', ')})`)
      return found
    },
    async cleanup() {
      await Promise.all(nodes.map((n) => n.kill('SIGTERM')))
      for (const n of nodes) rmSync(n.storeDir, { recursive: true, force: true })
    },
  }
  await waitForJetStream(url)
  return cluster
}

/** Waits until the cluster's JetStream answers account info (it has elected a meta leader). */
async function waitForJetStream(url: string, ms = 20_000): Promise<void> {
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const nc = await connect({ servers: url.replace(/^nats:\/\//, '').split(','), maxReconnectAttempts: -1 })
  try {
    const deadline = Date.now() + ms
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 })
        await jsm.getAccountInfo()
        return
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`the cluster's JetStream was not ready within ${ms} ms: ${(error as Error).message}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  } finally {
    await nc.close()
  }
}

/** Whether every thread of process `pid` is stopped (state T); true where /proc cannot tell. */
function stopped(pid: number): boolean {
  const tasks = `/proc/${pid}/task`
  if (!existsSync(tasks)) return true
  return readdirSync(tasks).every((tid) => {
    try {
      return readFileSync(`${tasks}/${tid}/stat`, 'utf8').split(') ')[1]?.startsWith('T') ?? true
    } catch {
      return true
    }
  })
}
