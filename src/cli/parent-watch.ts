/**
 * `npx celeriac worker` runs the worker under `npm exec`, through a `sh -c` that npm starts.
 * A TERM sent to npm's pid reaches the shell, which dies without passing it on, and npm exits:
 * the worker is left running with no parent. Under npm (which sets `npm_lifecycle_event` for
 * `npx` and `npm run` alike) the worker therefore watches its parent, and treats its loss as
 * a TERM. Processes meant to outlive their starter (`celeriac multi`) are started without
 * npm's variables.
 */

/** How often the parent is checked; a lost parent is noticed within this long. */
const POLL_MS = 250

/**
 * The parent this process started under, read as the CLI loads. A watch compares with it, not
 * with the parent when the watch begins: npm killed during a start (connecting to NATS, loading
 * the app) has already reparented this process by then, and the watch would never fire.
 */
const startingParent = process.ppid

/**
 * Calls `onGone` once if this process's parent exits (this process is reparented), when it
 * runs under npm; returns a function that stops watching.
 */
export function watchParent(onGone: (ppid: number) => void, env: NodeJS.ProcessEnv = process.env): () => void {
  if (env.npm_lifecycle_event === undefined) return () => {}
  const timer = setInterval(() => {
    if (process.ppid === startingParent) return
    clearInterval(timer)
    onGone(startingParent)
  }, POLL_MS)
  // The watch alone must not keep the process alive.
  timer.unref()
  return () => clearInterval(timer)
}

/** The environment without npm's variables, for a process that must not watch its parent. */
export function withoutNpm(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('npm_')))
}
