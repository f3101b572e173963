// CPU time of processes and threads, from /proc (Linux): what the benches that split a
// workload's cost by part (server, worker, client) read.
import { readdirSync, readFileSync } from 'node:fs'

const TICK = 100 // USER_HZ: /proc/<pid>/stat counts CPU time in these

/** User plus system CPU seconds in a /proc `stat` line. */
function statSeconds(stat: string): number {
  const fields = stat.split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICK
}

/** CPU seconds a process (all its threads) used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    return statSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return 0
  }
}

/** CPU seconds each thread of `pid` used so far, by thread id (the main thread's is `pid`). */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), statSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')))
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out
}

/** The nats-server this process started (its child; at most one runs at a time here). */
export function serverPid(): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const [command, rest] = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')
      if (command.endsWith('(nats-server') && Number(rest.split(' ')[1]) === process.pid) return Number(entry)
    } catch {}
  }
  throw new Error('the nats-server started here was not found')
}
