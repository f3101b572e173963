import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))
// What bin/celeriac.js runs in an installed package; in this checkout it runs the sources.
const builtCli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

/** A `celeriac worker` running in its own OS process. */
export interface WorkerProcess {
  readonly child: ChildProcess
  readonly hostname: string
  /** Everything it printed so far. */
  output(): string
  /** Sends a signal and waits for the process to exit; resolves to its exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>
}

/**
 * Starts `celeriac worker -A <app>` as a child process and resolves once its banner says it is
 * ready (consuming). Arguments are the CLI's (`-c`, `-Q`, ...); the environment carries the
 * broker URL, as in a deployment. `built` runs the CLI from `dist/`, as an installed package
 * does (the benches time that), instead of the sources through tsx.
 */
export async function startWorkerProcess(options: { app: string; hostname: string; args?: string[]; env?: Record<string, string>; built?: boolean }): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [options.built ? builtCli : bin, 'worker', '-A', options.app, '-n', options.hostname, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk))
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? 0)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${options.hostname} not ready after 20 s:\n${output}`)), 20_000)
    const check = () => {
      if (output.includes('[tasks]')) {
        clearTimeout(timer)
        child.stdout!.off('data', check)
        resolve()
      }
    }
    child.stdout!.on('data', check)
    exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`worker ${options.hostname} exited (${code}) before it was ready:\n${output}`))
    })
  })
  return {
    child,
    hostname: options.hostname,
    output: () => output,
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}
