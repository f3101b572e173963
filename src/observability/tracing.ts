/**
 * OpenTelemetry traces, following the messaging conventions: a PRODUCER span `send <queue>`
 * around each publish, whose context travels in the task's headers as a W3C `traceparent`,
 * and a CONSUMER span `process <queue>` around each attempt on a worker, from its hand-off to
 * a thread to its outcome. Until an SDK registers a tracer provider, neither is made. What a
 * task sends when it ends (a chain's next step, a chord's body, its callbacks) is sent inside
 * its span, so a whole canvas is one trace.
 * @module
 */
import { FIRST_ATTEMPT, formatTraceparent, parseTraceparent, TRACEPARENT, TRACESTATE } from './trace-context.js'
import { TRACER_NAME, type Otel } from './otel.js'
import type { Span, Tracer } from '@opentelemetry/api'
import type { TaskHeaders } from '../protocol/envelope.js'
import type { WireError } from '../serialization/failure.js'
import type { ObservedTask, TaskEnd } from '../worker/worker-observer.js'

const SYSTEM = 'celeriac'

// A proxy that follows whichever provider is registered, now or later: made once.
let cachedTracer: Tracer | undefined
function tracer(api: Otel): Tracer {
  return (cachedTracer ??= api.trace.getTracer(TRACER_NAME))
}

// The provider a proxy hands out while no SDK is registered (the API's no-op singleton).
let noopProvider: unknown
/**
 * True once an SDK registered a tracer provider. Until then every span would be a no-op, so
 * the send and the process paths skip making one: checked per task, as an SDK may come later.
 */
function sdkRegistered(api: Otel): boolean {
  noopProvider ??= new api.ProxyTracerProvider().getDelegate()
  const provider = api.trace.getTracerProvider()
  return !(provider instanceof api.ProxyTracerProvider) || provider.getDelegate() !== noopProvider
}

/**
 * Publishes `headers` inside a `send <queue>` span: a child of the active span, or of the
 * trace the task already carries. A task re-sent with no active span (a requeue) keeps the
 * trace context it has. With no SDK registered the span is not recording and nothing is
 * written into the headers.
 */
export function tracedSend<T>(api: Otel, headers: TaskHeaders, queue: string, publish: () => Promise<T>): Promise<T> {
  if (!sdkRegistered(api)) return publish()
  const active = api.trace.getSpan(api.context.active())
  if (active === undefined && headers.headers?.[TRACEPARENT] !== undefined) return publish()
  const span = tracer(api).startSpan(`send ${queue}`, { kind: api.SpanKind.PRODUCER })
  // Attributes only for a span that records: a no-op tracer's span costs no more than itself.
  if (span.isRecording()) {
    span.setAttributes({
      'messaging.system': SYSTEM,
      'messaging.operation.type': 'send',
      'messaging.destination.name': queue,
      'messaging.message.id': headers.id,
      'celeriac.task.name': headers.task,
      'celeriac.task.retries': headers.retries,
    })
  }
  const context = span.spanContext()
  if (!api.trace.isSpanContextValid(context)) return publish()
  const carried: Record<string, unknown> = { ...headers.headers, [TRACEPARENT]: formatTraceparent(context) }
  const state = context.traceState?.serialize()
  if (state) carried[TRACESTATE] = state
  else delete carried[TRACESTATE]
  headers.headers = carried
  return publish().then(
    (value) => {
      span.end()
      return value
    },
    (error: unknown) => {
      fail(api, span, error as Error)
      span.end()
      throw error
    },
  )
}

/** A worker node's CONSUMER spans, one per attempt, kept from hand-off to outcome. */
export class WorkerTracing {
  readonly #api: Otel
  readonly #tracer: Tracer
  readonly #spans = new WeakMap<ObservedTask, Span>()

  constructor(api: Otel) {
    this.#api = api
    this.#tracer = tracer(api)
  }

  /** Opens the attempt's span; returns its traceparent for the thread, when it is recorded. */
  started(task: ObservedTask): string | undefined {
    const api = this.#api
    if (!sdkRegistered(api)) return undefined
    const { headers } = task
    const user = headers.headers
    const parent = parseTraceparent(user?.[TRACEPARENT], traceState(api, user?.[TRACESTATE]))
    const first = headers.retries > 0 ? parseTraceparent(user?.[FIRST_ATTEMPT]) : undefined
    const span = this.#tracer.startSpan(
      `process ${task.delivery.queue}`,
      { kind: api.SpanKind.CONSUMER, ...(first ? { links: [{ context: first, attributes: { 'celeriac.link': 'first_attempt' } }] } : {}) },
      parent ? api.trace.setSpanContext(api.ROOT_CONTEXT, parent) : api.ROOT_CONTEXT,
    )
    if (span.isRecording()) {
      span.setAttributes({
        'messaging.system': SYSTEM,
        'messaging.operation.type': 'process',
        'messaging.destination.name': task.delivery.queue,
        'messaging.message.id': headers.id,
        'messaging.message.delivery_count': task.delivery.deliveryCount,
        'celeriac.task.name': headers.task,
        'celeriac.task.retries': headers.retries,
      })
    }
    const context = span.spanContext()
    if (!api.trace.isSpanContextValid(context)) return undefined
    this.#spans.set(task, span)
    return formatTraceparent(context)
  }

  ended(task: ObservedTask, end: TaskEnd, error: WireError | Error | undefined): void {
    const span = this.#spans.get(task)
    if (span === undefined) return
    this.#spans.delete(task)
    span.setAttribute('celeriac.task.state', end)
    if (error !== undefined) {
      if (end === 'failed') fail(this.#api, span, error)
      else span.recordException(exception(error))
    }
    if (end === 'retried' && task.headers.retries === 0) {
      // The retry re-sends a copy of these headers: its attempts link back to this one. The
      // headers are this delivery's own decoded copy, so nothing else sees the change.
      const { headers } = task
      headers.headers = { ...headers.headers, [FIRST_ATTEMPT]: formatTraceparent(span.spanContext()) }
    }
    span.end()
  }

  within<T>(task: ObservedTask, fn: () => T): T {
    const span = this.#spans.get(task)
    if (span === undefined) return fn()
    const api = this.#api
    return api.context.with(api.trace.setSpan(api.context.active(), span), fn)
  }

  logFields(task: ObservedTask): Record<string, unknown> | undefined {
    // After its outcome the span is closed, but what the node logs then runs inside it.
    const span = this.#spans.get(task) ?? this.#api.trace.getSpan(this.#api.context.active())
    if (span === undefined || !this.#api.trace.isSpanContextValid(span.spanContext())) return undefined
    const { traceId, spanId } = span.spanContext()
    return { traceId, spanId }
  }
}

function traceState(api: Otel, value: unknown): ReturnType<Otel['createTraceState']> | undefined {
  return typeof value === 'string' && value !== '' ? api.createTraceState(value) : undefined
}

/** An exception as OpenTelemetry records it, from an Error or a wire error. */
function exception(error: WireError | Error): { name: string; message: string; stack?: string } {
  const name = 'type' in error ? error.type : error.name
  return { name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) }
}

function fail(api: Otel, span: Span, error: WireError | Error): void {
  const recorded = exception(error)
  span.recordException(recorded)
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: `${recorded.name}: ${recorded.message}` })
}
