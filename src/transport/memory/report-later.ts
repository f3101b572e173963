/**
 * Rethrows `error` outside the current call stack. A throwing handler is a bug in the
 * caller: it surfaces as an uncaught error instead of being swallowed, and the delivery
 * loop that called the handler carries on for everyone else.
 */
export function reportLater(error: unknown): void {
  queueMicrotask(() => {
    throw error
  })
}
