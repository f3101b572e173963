/**
 * Inside a worker thread: runs a task in the context of the CONSUMER span the main thread
 * opened for it, so that a span the task opens is that span's child. It takes effect when the
 * thread has an OpenTelemetry context manager, which the app module registers along with its
 * SDK (every thread imports the app module).
 * @module
 */
import { otel } from './otel.js'
import { parseTraceparent } from './trace-context.js'

/** `traceId` and `spanId` of the active span, for log lines; undefined when none is. */
export function activeTraceFields(): Record<string, unknown> | undefined {
  const api = otel()
  const span = api?.trace.getActiveSpan()
  if (!api || !span) return undefined
  const { traceId, spanId } = span.spanContext()
  return api.trace.isSpanContextValid(span.spanContext()) ? { traceId, spanId } : undefined
}

/** Calls `fn` with the span named by `traceparent` as the active span (plainly without the API). */
export function runInTrace(traceparent: string, fn: () => void): void {
  const api = otel()
  const parent = api ? parseTraceparent(traceparent) : undefined
  if (!api || !parent) return fn()
  api.context.with(api.trace.setSpanContext(api.ROOT_CONTEXT, parent), fn)
}
