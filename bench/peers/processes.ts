// Child processes of the comparison bench: servers, workers and clients, each started here,
// known by PID, and stopped by PID, also when the bench fails or is interrupted.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

/** A long-running child: a server or a worker. */
export interface Managed {
  readonly name: string
  /** Unknown for a child another helper started and stops (e.g. `startNatsServer`). */
  readonly pid?: number
  /** Everything it printed so far (stdout and stderr). */
  output(): string
  /** TERM, then KILL of its whole process group if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

const running = new Set<Managed>()

/** Stops every child still running, newest first. */
export async function stopAll(): Promise<void> {
  for (const child of [...running].reverse()) await child.stop(3_000)
}

/** Stops whatever is left when the bench fails or is interrupted (Ctrl-C, TERM). */
export function cleanUpOnExit(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping ${running.size} child process(es)`)
      void stopAll().finally(() => process.exit(130))
    })
  }
  // Last resort, synchronous: nothing started here outlives the bench.
  process.once('exit', () => {
    for (const { pid } of running) {
      if (pid === undefined) continue
      kill(-pid, 'SIGKILL')
      kill(pid, 'SIGKILL')
    }
  })
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // Already gone.
  }
}

/** Adopts a child started elsewhere (e.g. by `startNatsServer`) so that `stopAll` stops it too. */
export function adopt(name: string, stop: () => Promise<unknown>, pid?: number): Managed {
  const managed: Managed = {
    name,
    pid,
    output: () => '',
    stop: async () => {
      running.delete(managed)
      await stop()
    },
  }
  running.add(managed)
  return managed
}

function launch(name: string, command: string, args: string[], options: { env?: Record<string, string>; cwd?: string }): { child: ChildProcess; output: () => string; stdout: () => string; exited: Promise<void> } {
  // Its own process group, so that a stop reaches what it forked (Celery's prefork children).
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  let stdout = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk
    stdout += chunk
  })
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk))
  const exited = new Promise<void>((resolve, reject) => {
    child.once('exit', () => resolve())
    child.once('error', (error) => reject(new Error(`${name}: cannot start ${command}: ${error.message}`)))
  })
  return { child, output: () => output, stdout: () => stdout, exited }
}

/**
 * Starts a long-running child and resolves once its output matches `ready` (within
 * `timeoutMs`); rejects with its output if it exits first.
 */
export async function startProcess(name: string, command: string, args: string[], options: { ready: RegExp; env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<Managed> {
  const { child, output, exited } = launch(name, command, args, options)
  const pid = child.pid!
  const managed: Managed = {
    name,
    pid,
    output,
    stop: async (graceMs = 15_000) => {
      running.delete(managed)
      if (child.exitCode !== null || child.signalCode !== null) return
      kill(pid, 'SIGTERM')
      const timer = setTimeout(() => kill(-pid, 'SIGKILL'), graceMs)
      await exited.catch(() => undefined)
      clearTimeout(timer)
    },
  }
  running.add(managed)
  const timeoutMs = options.timeoutMs ?? 30_000
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs / 1000} s:\n${output()}`)), timeoutMs)
      const check = () => {
        if (!options.ready.test(output())) return
        clearTimeout(timer)
        resolve()
      }
      child.stdout!.on('data', check)
      child.stderr!.on('data', check)
      exited.then(
        () => reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`)),
        reject,
      )
    })
  } catch (error) {
    await managed.stop(1_000)
    throw error
  }
  return managed
}

/**
 * Runs a client to completion and parses the last line it printed as JSON; rejects with its
 * output when it exits non-zero or prints no JSON.
 */
export async function runJson<T>(name: string, command: string, args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<T> {
  const { child, output, stdout, exited } = launch(name, command, args, options)
  const managed = adopt(name, async () => {
    kill(-child.pid!, 'SIGKILL')
    await exited.catch(() => undefined)
  }, child.pid)
  try {
    await exited
  } finally {
    running.delete(managed)
  }
  const text = output()
  if (child.exitCode !== 0) {
    // The error's own line first (Node prints it after the source excerpt, Python last).
    const reason = text.match(/^[\w.]*(?:Error|Exception)\b.*$/gm)?.at(-1) ?? 'no error printed'
    throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode}: ${reason}\n${text.slice(-4_000)}`)
  }
  const last = stdout().trim().split('\n').at(-1) ?? ''
  try {
    return JSON.parse(last) as T
  } catch {
    throw new Error(`${name} printed no JSON result:\n${text.slice(-4_000)}`)
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
