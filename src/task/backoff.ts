/**
 * Delay of the next automatic retry (Celery's `get_exponential_backoff_interval`):
 * `factor * 2^retries`, capped at `maxMs`, then with full jitter a random value in [0, delay].
 */
export function backoffDelay(factorMs: number, retries: number, maxMs: number, jitter: boolean, random: () => number = Math.random): number {
  const delay = Math.min(maxMs, factorMs * 2 ** retries)
  return jitter ? Math.round(random() * delay) : delay
}
