/**
 * Reads `read()` every 25 ms until `ok` accepts its value, and returns that value; throws naming
 * `what` after 200 tries (5 s). For a state only a query shows (remote control's inspect), where
 * there is no event to await.
 */
export async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await read()
    if (ok(value)) return value
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}
