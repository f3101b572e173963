/**
 * The buckets of celeriac's duration histograms, in seconds, from a millisecond task to a
 * five-minute one: the worker's and the dashboard's histograms share them, so that their
 * series can be summed and their quantiles compared.
 */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
