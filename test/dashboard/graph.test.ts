import t from 'tap'
import { chain, chord, type AsyncResult } from '../../src/index.js'
import { app, add, echo } from '../fixtures/dashboard-app.js'
import { DashboardState } from '../../src/dashboard/state.js'
import { canvasGraph } from '../../src/dashboard/canvas-graph.js'

// The canvas graph of the task page (GET /api/task/graph/:id and `graph` in the task info),
// in-process on memory:// with one embedded node sending events: a chain's steps in a row,
// a chord's header in one column and its body after it.
const node = app.worker({ concurrency: 2, hostname: 'dash-graph@%h', sendEvents: true })
const handler = app.dashboard({})
const T = { timeout: 10_000 }

t.before(async () => {
  await handler.dashboard
  await node.start()
})
t.teardown(async () => {
  await node.stop()
  await handler.close()
  await app.close()
})

async function call(path: string): Promise<{ status: number; body: any }> {
  const response = await handler.fetch(new Request('http://127.0.0.1:5555' + path))
  return { status: response.status, body: await response.json() }
}

/** The graph once every one of `ids` is in it with `state`. */
async function graphOf(id: string, ids: string[], state = 'SUCCESS'): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const { body } = await call(`/api/task/graph/${id}`)
    if (ids.every((n) => body.nodes?.some((node: { id: string; state: string }) => node.id === n && node.state === state))) return body
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`timed out waiting for the graph of ${id} to hold ${ids.join(', ')}`)
}

const shape = (graph: any) => ({
  nodes: graph.nodes.map((n: any) => [n.id, n.name, n.state, n.depth]).sort(),
  edges: graph.edges.map((e: any) => [e.from, e.to]).sort(),
})

t.test('a chain of three: three nodes in a row, each step the child of the one before', async (t) => {
  const last = await chain(add.s(1, 2), add.s(3), add.s(4)).applyAsync()
  t.equal(await last.get(T), 10)
  const second = last.parent as AsyncResult
  const first = second.parent as AsyncResult
  const graph = await graphOf(second.id, [first.id, second.id, last.id])
  t.equal(graph.id, second.id)
  t.equal(graph.rootId, first.id, "the root is the chain's first step")
  t.same(shape(graph), {
    nodes: [[first.id, 'd.add', 'SUCCESS', 0], [second.id, 'd.add', 'SUCCESS', 1], [last.id, 'd.add', 'SUCCESS', 2]].sort(),
    edges: [[first.id, second.id], [second.id, last.id]].sort(),
  })
  t.match(graph, { total: 3, truncated: false })
  const info = await call(`/api/task/info/${last.id}`)
  t.same(shape(info.body.graph), shape(graph), 'the task info carries the same graph')
})

t.test('a chord of two and its body: the header in one column, the body after it', async (t) => {
  const body = await chord([add.s(1, 1), add.s(2, 2)], echo.s()).applyAsync()
  t.same(await body.get(T), [2, 4])
  const header = (body.parent as unknown as { results: AsyncResult[] }).results.map((r) => r.id)
  const graph = await graphOf(header[0], [...header, body.id])
  t.equal(graph.rootId, header[0], 'the root is the first header member')
  const nodes = shape(graph).nodes
  t.same(nodes, [[header[0], 'd.add', 'SUCCESS', 0], [header[1], 'd.add', 'SUCCESS', 0], [body.id, 'd.echo', 'SUCCESS', 1]].sort())
  t.equal(graph.edges.length, 1, 'one edge: from the member that completed the chord')
  t.ok(header.includes(graph.edges[0].from), 'the edge comes from a header member')
  t.equal(graph.edges[0].to, body.id)
})

t.test('an unknown task is a 404; a bad id a 400', async (t) => {
  t.same(await call('/api/task/graph/nope-123'), { status: 404, body: { error: "unknown task nope-123: not in the dashboard's memory nor in the result backend" } })
  const long = 'x'.repeat(256)
  t.same(await call(`/api/task/graph/${long}`), { status: 400, body: { error: `task id must be a non-empty name of at most 255 characters, got "${long}"` } })
})

t.test('the index by root follows dropped tasks, and a graph is cut at its limit', async (t) => {
  const state = new DashboardState({ maxTasks: 5 })
  const received = (id: string, parentId?: string) =>
    state.apply({ type: 'task-received', uuid: id, name: 'n', retries: 0, rootId: 'r0', hostname: 'h', timestamp: 1, ...(parentId ? { parentId } : {}) } as never)
  received('r0')
  for (let i = 1; i < 7; i++) received(`r${i}`, `r${i - 1}`)
  t.same([...state.canvasIds('r0')], ['r2', 'r3', 'r4', 'r5', 'r6'], 'the two oldest were dropped from the index too')
  const cut = canvasGraph(state, state.tasks.get('r6')!, 3)
  t.same(cut.nodes.map((n) => n.id), ['r4', 'r5', 'r6'], 'the task and its nearest ancestors are kept')
  t.match(cut, { total: 5, truncated: true })
  t.same(cut.nodes.map((n) => n.depth), [0, 1, 2])
})
