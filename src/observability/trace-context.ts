/**
 * The W3C `traceparent` header (https://www.w3.org/TR/trace-context/), written and read here so
 * that a task carries its trace whatever propagator the app did or did not register.
 * @module
 */
import type { SpanContext } from '@opentelemetry/api'

/** The user-header key a task's trace context travels under. */
export const TRACEPARENT = 'traceparent'
/** The vendor-specific part of the trace context, when the sender had one. */
export const TRACESTATE = 'tracestate'
/** The traceparent of a task's first attempt, which its retries link to. */
export const FIRST_ATTEMPT = 'celeriac-first-attempt'

const PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** A span context as a `traceparent` value. */
export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`
}

/** The remote span context a `traceparent` value names, or undefined when it is not one. */
export function parseTraceparent(value: unknown, traceState?: SpanContext['traceState']): SpanContext | undefined {
  if (typeof value !== 'string') return undefined
  const match = PATTERN.exec(value)
  if (match === null || /^0+$/.test(match[1]) || /^0+$/.test(match[2])) return undefined
  const context: SpanContext = { traceId: match[1], spanId: match[2], traceFlags: parseInt(match[3], 16), isRemote: true }
  if (traceState !== undefined) context.traceState = traceState
  return context
}
