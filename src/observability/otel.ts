/**
 * `@opentelemetry/api`, an optional peer dependency: imported once, when this module loads,
 * and never again. Without it every tracing path is a check of one variable.
 * @module
 */
import type * as OtelApi from '@opentelemetry/api'

/** The OpenTelemetry API module. */
export type Otel = typeof OtelApi

// undefined while the import runs; null when the package is not installed, or when the
// standard OTEL_SDK_DISABLED=true turns OpenTelemetry off (then it is not even imported).
let loaded: Otel | null | undefined
const loading: Promise<Otel | null> =
  process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true'
    ? Promise.resolve((loaded = null))
    : import('@opentelemetry/api').then(
        (api) => (loaded = api),
        () => (loaded = null),
      )

/** The API if it has loaded, null if it is not installed, undefined while it is still loading. */
export function otel(): Otel | null | undefined {
  return loaded
}

/** Resolves once the import settled: to the API, or null when it is not installed. */
export function loadOtel(): Promise<Otel | null> {
  return loading
}

/** The name celeriac's spans are created under. */
export const TRACER_NAME = 'celeriac'
