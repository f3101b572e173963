// A uPlot time chart: one-line time labels that never overlap, a sane window for one sample,
// and the labels it drew in `data-x-labels` (a canvas has no text to read).
import { html, useEffect, useRef } from './lib.js'
import { clock, timeRange, timeTicks } from './format.js'
import uPlot from '../vendor/uplot.mjs'

/** Room uPlot keeps left of the plot for the y axis, px (its default axis size plus padding). */
const Y_AXIS_PX = 60

/**
 * `window`: seconds shown around a single sample (or samples all at one time); `note`: a line
 * under the chart.
 */
export function Chart({ title, series, data, window = 60, note, id }) {
  const box = useRef(null)
  const plot = useRef(null)
  useEffect(() => {
    if (!box.current) return
    const width = Math.min(560, box.current.clientWidth || 560)
    let labels = []
    const x = {
      space: 40,
      splits: (u, _axis, min, max) => {
        const drawn = timeTicks(min, max, u.bbox.width / devicePixelRatio || width - Y_AXIS_PX)
        labels = drawn.labels
        return drawn.ticks
      },
      values: () => labels,
    }
    const options = {
      title, width, height: 200,
      series: [{ value: (u, t) => (t === null ? '--' : clock(t * 1000)) }, ...series],
      // From the data, not uPlot's min and max: it widens one sample's instant by 86,400 / ms
      // seconds (1,000 days) before asking.
      scales: { x: { time: true, range: (u) => timeRange(u.data[0]?.[0], u.data[0]?.[u.data[0].length - 1], window) } },
      axes: [x, {}],
      hooks: { draw: [() => box.current && (box.current.dataset.xLabels = labels.join('|'))] },
    }
    plot.current = new uPlot(options, data, box.current)
    return () => plot.current?.destroy()
  }, [])
  useEffect(() => plot.current?.setData(data), [data])
  return html`<figure class="chart" id=${id}><div ref=${box}></div>${note ? html`<figcaption class="hint">${note}</figcaption>` : null}</figure>`
}
