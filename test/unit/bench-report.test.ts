import t from 'tap'
import { barChart } from '../../bench/chart.js'
import { goals, markdown, panels, ratios, ratioTable, rows, textTable, type Samples } from '../../bench/report.js'
import { inRunOrder, inWindows, percentile, summarize } from '../../bench/stats.js'

const samples: Samples[] = [
  { system: 'celeriac', config: 'NATS + KV results, -c 2', workloads: ['throughput', 'roundTrip', 'chord'], runs: [
    { throughput: 9_000, p50: 0.5, p99: 2, unavailable: { chord: 'celeriac chord on rpc://: results are not stored, so a chord cannot be joined' } },
    { throughput: 11_000, p50: 0.7, p99: 3, unavailable: { chord: 'celeriac chord on rpc://: results are not stored, so a chord cannot be joined' } },
    { throughput: 10_000, p50: 0.6, p99: 4, unavailable: { chord: 'celeriac chord on rpc://: results are not stored, so a chord cannot be joined' } },
  ] },
  { system: 'BullMQ', config: 'concurrency 50', workloads: ['throughput', 'roundTrip', 'chord'], runs: [{ throughput: 5_000, p50: 1, p99: 5, chord: 300 }] },
  { system: 'Celery', config: '-P solo', workloads: ['throughput', 'roundTrip'], runs: [{ throughput: 1_000, p50: 2, p99: 8 }] },
  { system: 'Celery', config: '-P prefork -c 2', workloads: ['throughput'], runs: [], failure: 'TimeoutError: no result <in> 20 s' },
]

t.test('bench stats - each run takes the contenders in another order, each once', async (t) => {
  const list = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
  const orders = [1, 2, 3].map((run) => inRunOrder(list, run, 3).join(''))
  t.same(orders, ['abcdefg', 'cbagfed', 'gabcdef'])
  for (const order of orders) t.same([...order].sort(), list, 'every contender runs once in each run')
  t.same(new Set(orders.map((order) => order[0])).size, 3, 'a different one goes first in each run')
  t.same(inRunOrder(['only'], 2, 3), ['only'])
  t.same(inRunOrder([], 1, 3), [])
  t.same(list, ['a', 'b', 'c', 'd', 'e', 'f', 'g'], 'the list itself is left as it was')
})

t.test('bench stats - median, min, max, percentiles and windows', async (t) => {
  t.same(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, runs: [3, 1, 2] })
  t.equal(summarize([4, 1, 2, 3]).median, 2.5)
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
  t.equal(percentile(sorted, 50), 51)
  t.equal(percentile(sorted, 99), 100)
  let inFlight = 0
  let most = 0
  const out = await inWindows(25, 10, async (i) => {
    most = Math.max(most, ++inFlight)
    await new Promise((resolve) => setImmediate(resolve))
    inFlight--
    return i * 2
  })
  t.same(out, Array.from({ length: 25 }, (_, i) => i * 2), 'every result, in order')
  t.equal(most, 10, 'never more than the window in flight')
})

t.test('bench report - rows summarise runs; unavailable and failed contenders say why', async (t) => {
  const all = rows(samples)
  t.match(all.find((r) => r.system === 'celeriac' && r.measure === 'throughput'), { median: 10_000, min: 9_000, max: 11_000 })
  t.match(all.find((r) => r.system === 'celeriac' && r.measure === 'chord'), { median: undefined, note: 'celeriac chord on rpc://: results are not stored, so a chord cannot be joined' })
  t.match(all.find((r) => r.config === '-P prefork -c 2'), { measure: 'throughput', note: 'failed: TimeoutError: no result <in> 20 s' })
  t.notOk(all.some((r) => r.config === '-P solo' && r.measure === 'chord'), 'no row for a workload a contender does not run')
})

t.test('bench report - the cold pass of the throughput workload is a row of its own, apart from the steady state', async (t) => {
  const warmAndCold: Samples[] = [{ system: 'celeriac', config: 'defaults', workloads: ['throughput'], runs: [{ throughputCold: 6_000, throughput: 9_000 }, { throughputCold: 7_000, throughput: 10_000 }] }]
  const all = rows(warmAndCold)
  t.match(all.find((r) => r.measure === 'throughput'), { median: 9_500 }, 'the goals and ratios read the second pass')
  t.match(all.find((r) => r.measure === 'throughputCold'), { median: 6_500 })
  t.match(textTable(all), /throughputCold \(tasks\/s\)\s+celeriac\s+defaults\s+6,500/, 'printed with the rest')
})

t.test('bench report - ratios are oriented so that above 1 means celeriac is better', async (t) => {
  const all = ratios(rows(samples))
  t.equal(all.find((r) => r.measure === 'throughput' && r.peer === 'BullMQ concurrency 50')?.times, 2)
  t.equal(all.find((r) => r.measure === 'p50' && r.peer === 'Celery -P solo')?.times, 2 / 0.6)
  t.equal(all.filter((r) => r.measure === 'chord').length, 0, 'no ratio without a celeriac figure')
})

t.test('bench report - goals against the best peer configuration and the raw JetStream ceiling', async (t) => {
  const jetstream: Samples = { system: 'JetStream', config: 'raw publish + consume + KV put', workloads: ['throughput', 'roundTrip'], runs: [{ throughput: 12_000, p50: 0.5, p99: 1 }] }
  const met = (all: Samples[]) => goals(rows(all), 'NATS + KV results, -c 2').map((g) => [g.goal, g.met])
  t.same(met([...samples, jetstream]), [
    ["end to end at the defaults >= 1.5x BullMQ's best", true],
    ["end to end at the defaults >= 10x Celery's best", true],
    ['end to end at the defaults >= 0.75x the raw JetStream ceiling', true],
    ['round trip p50 <= 1.5x the raw JetStream round trip', true],
    ['round trip p99 < 3 ms', false],
    ["I/O-bound at the defaults >= BullMQ's best", undefined],
    ["CPU-bound at the defaults >= BullMQ's best (no regression)", undefined],
  ])
  t.same(met(samples.slice(0, 1)).map(([, m]) => m), [undefined, undefined, undefined, undefined, false, undefined, undefined], 'only the p99 goal is measured without peers')
})

t.test('bench chart - an SVG with a bar per figure, scaled per panel, text escaped', async (t) => {
  const svg = barChart({ title: 'tasks & results', subtitle: '2026-11-21 <test>', panels: panels(rows(samples)) })
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="900" height="\d+"/)
  t.ok(svg.trimEnd().endsWith('</svg>'))
  t.match(svg, 'tasks &#38; results')
  t.match(svg, '2026-11-21 &#60;test&#62;')
  t.notMatch(svg, '<test>', 'no raw markup from labels')
  const bars = [...svg.matchAll(/<rect class="bar" x="300" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]))
  // throughput: 10,000 (max 11,000), 5,000, 1,000; p50: 3; p99: 3; chord: BullMQ only.
  t.equal(bars.length, 3 + 3 + 3 + 1)
  t.equal(bars[0], Number(((10_000 / 11_000) * 480).toFixed(1)), 'the largest figure of a panel spans the plot')
  t.equal(bars[1], Number(((5_000 / 11_000) * 480).toFixed(1)))
  t.match(svg, 'celeriac chord on rpc://: results are not stored, so a chord cannot be joined')
  t.match(svg, 'failed: TimeoutError: no result &#60;in&#62; 20 s')
})

t.test('bench report - text and Markdown tables carry every row, ratio and goal', async (t) => {
  const all = rows(samples)
  const text = textTable(all)
  t.equal(text.split('\n').length, 2 + all.length, 'a header, a rule and a line per row')
  t.match(text, /throughput \(tasks\/s\)\s+celeriac\s+NATS \+ KV results, -c 2\s+10,000\s+9,000\s+11,000/)
  t.match(ratioTable(ratios(all)), /throughput\s+NATS \+ KV results, -c 2\s+BullMQ concurrency 50\s+2\.00x/)
  const md = markdown(all, ratios(all), goals(all, 'NATS + KV results, -c 2'))
  t.match(md, '| End to end: no-op tasks with results (tasks/s) | celeriac | NATS + KV results, -c 2 | 10,000 | 9,000 | 11,000 |')
  t.match(md, '| throughput | NATS + KV results, -c 2 | BullMQ concurrency 50 | 2.00x |')
  t.match(md, "- met: end to end at the defaults >= 1.5x BullMQ's best (10,000 vs 5,000 tasks/s)")
})
