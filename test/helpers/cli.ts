import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/celeriac.js', import.meta.url))

/** What a finished `celeriac` command printed and returned. */
export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `celeriac <args>` to completion in its own process. */
export function celeriac(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })))
}

/** A long-running `celeriac` command (`events --dump`): its output so far, and a way to wait for a line. */
export interface CliProcess {
  readonly child: ChildProcess
  output(): string
  /** Resolves once the output matches `pattern`; rejects after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<void>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `celeriac <args>` and returns at once. */
export function startCeleriac(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const listeners = new Set<() => void>()
  const append = (chunk: Buffer) => {
    output += chunk
    for (const listener of listeners) listener()
  }
  child.stdout.on('data', append)
  child.stderr.on('data', append)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    output: () => output,
    waitFor: (pattern, ms = 20_000) => new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return
        listeners.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`no ${pattern} in ${ms} ms; output:\n${output}`))
      }, ms)
      listeners.add(check)
      check()
    }),
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}
