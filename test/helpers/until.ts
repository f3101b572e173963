/**
 * Reads `read()` every 25 ms until `ok` accepts its value, and returns that value; throws naming
 * `what` once `ms` have passed. For a state only a query shows (remote control's inspect, the
 * dashboard's API, a file a task writes), where there is no event to await.
 */
export async function until<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read()
    if (ok(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
