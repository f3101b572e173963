import t from 'tap'
// @ts-expect-error: a browser module without types, run as is (no build step)
import { span, duration, timeRange, timeTicks, percentileNote, clock } from '../../src/dashboard/static/format.js'

// What the pages write for times and durations, and where chart ticks go: pure code, run here.

t.test('format - uptimes read like a human writes them (operator audit: "39.00 s")', async (t) => {
  t.equal(span(39), '39 s')
  t.equal(span(39.4), '39 s')
  t.equal(span(0), '0 s')
  t.equal(span(252), '4 min 12 s')
  t.equal(span(240), '4 min')
  t.equal(span(3 * 3600 + 5 * 60 + 9), '3 h 5 min')
  t.equal(span(2 * 86_400 + 4 * 3600 + 120), '2 d 4 h')
  t.equal(span(undefined), '—')
  t.equal(duration(0.0123), '12.3 ms')
  t.equal(duration(1.5), '1.50 s')
  t.equal(duration(125), '2 min 5 s')
})

t.test('format - one sample gets a window around it, not years (operator audit: Apr 2027 to Aug 2029)', async (t) => {
  t.same(timeRange(1000, 1000, 60), [970, 1030])
  t.same(timeRange(1000, 1000.2, 60), [970, 1030.2])
  t.same(timeRange(undefined, undefined, 60, 5000), [4970, 5030])
  t.same(timeRange(1000, 1240, 60), [1000, 1240], 'real data keeps its own range')
})

t.test('format - time ticks leave room for their labels at the chart width (operator audit: overlapping labels)', async (t) => {
  const now = Math.floor(new Date(2026, 11, 7, 15, 39, 47).getTime() / 1000)
  for (const [spanS, width] of [[60, 500], [120, 500], [240, 500], [120, 300], [3600, 500], [86_000, 500], [3 * 86_400, 500], [120, 120]]) {
    const { ticks, labels, step } = timeTicks(now - spanS, now, width)
    t.ok(ticks.length >= 1, `${spanS} s in ${width} px has ticks`)
    const px = (step / spanS) * width
    const widest = Math.max(...labels.map((l: string) => l.length)) * 7
    if (ticks.length > 1) t.ok(px >= widest + 8, `${spanS} s in ${width} px: ${labels.join(' ')} are ${px.toFixed(0)} px apart, labels ${widest} px`)
    if (spanS <= 86_400) t.ok(labels.every((l: string) => /^\d\d:\d\d(:\d\d)?$/.test(l)), `time only within a day: ${labels.join(' ')}`)
  }
  t.same(timeTicks(now - 120, now, 500).labels, ['15:38:00', '15:38:30', '15:39:00', '15:39:30'], 'round times, one line each')
  t.equal(clock(new Date(2026, 0, 1, 0, 5, 9).getTime()), '00:05:09', '24-hour, zero-padded')
})

t.test('format - the runtime chart says when p50, p95 and p99 coincide (operator audit: one line for three)', async (t) => {
  const point = (p50: number | null, p95: number | null, p99: number | null) => ({ t: 0, succeeded: 1, failed: 0, p50, p95, p99 })
  t.match(percentileNote([point(0.1, 0.1, 0.1), point(null, null, null), point(0.3, 0.3, 0.3)]), /^p50, p95 and p99 are equal/)
  t.match(percentileNote([point(0.1, 0.2, 0.2)]), /^Where p95 and p99 meet/)
  t.equal(percentileNote([point(0.1, 0.2, 0.3)]), undefined)
  t.equal(percentileNote([point(null, null, null)]), 'No task finished in this window.')
})
