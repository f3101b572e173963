/**
 * The canvas around a task, as the task page draws it: every retained task of its workflow
 * (same root id) with its parent edge and its depth from the root.
 *
 * How the edges come about (src/canvas/plan.ts, continuation.ts, src/client/publisher.ts):
 * every task of a canvas carries the canvas's `rootId` (the id of its first entry task, unless
 * the caller passes `rootId`); `parentId` is the task that sent it. The entry tasks sent by the
 * caller (a chain's first step, every member of a group or a chord header) have no parent
 * unless the caller passes `parentId` (nothing passes them for a task that sends a canvas from
 * its body: that canvas is a graph of its own). A chain's next step is sent by
 * the step before it, so that step is its parent; a link callback's parent is the task it
 * follows; a chord's body is sent by the member whose report completed the chord, its parent.
 * So depth by parent puts a chain in a row, a group in one column, and a chord's body after
 * its header. Events carry `rootId` from the first one (task-sent), `parentId` from
 * task-received only: a task only sent yet shows at depth 0 without an edge.
 * @module
 */
import type { DashboardState, TaskRow } from './state.js'

/** One task of the graph. */
export interface GraphNode {
  id: string
  name: string | null
  state: string
  parentId: string | null
  /** Parent edges from the first task of the graph without a parent in it (0 for those). */
  depth: number
}

/** The canvas of a task: `GET /api/task/graph/:id`, and `graph` in `/api/task/info/:id`. */
export interface CanvasGraph {
  /** The task asked for. */
  id: string
  rootId: string
  /** At most `limit`, first seen first; the task asked for and its ancestors always. */
  nodes: GraphNode[]
  /** Parent to child, both in `nodes`. */
  edges: { from: string; to: string }[]
  /** Retained tasks of the canvas, `nodes.length` unless cut. */
  total: number
  /** True when the canvas had more than `limit` retained tasks. */
  truncated: boolean
}

/** The most nodes a graph holds by default. */
export const GRAPH_LIMIT = 200

/**
 * The canvas of `task` (the task alone when nothing else of its canvas is retained, as for a
 * task found in the result backend only). Costs the size of the canvas, not of the state.
 */
export function canvasGraph(state: DashboardState, task: TaskRow, limit = GRAPH_LIMIT): CanvasGraph {
  const { id } = task
  const rootId = task.rootId ?? id
  const all = state.canvasIds(rootId)
  const chosen = new Set<string>()
  // The task itself and its ancestors first, so a cut graph still shows where it sits.
  for (let at: string | undefined = id; at !== undefined && !chosen.has(at) && chosen.size < limit; at = state.tasks.get(at)?.parentId) {
    if (at === id || all.has(at)) chosen.add(at)
    else break
  }
  for (const other of all) {
    if (chosen.size >= limit) break
    chosen.add(other)
  }
  const ordered = [...all].filter((n) => chosen.has(n))
  if (!all.has(id)) ordered.unshift(id)
  const nodes: GraphNode[] = ordered.map((n) => {
    const row = n === id ? task : state.tasks.get(n)
    return { id: n, name: row?.name ?? null, state: row?.state ?? 'PENDING', parentId: row?.parentId ?? null, depth: 0 }
  })
  const byId = new Map(nodes.map((node) => [node.id, node]))
  const depthOf = (node: GraphNode, seen: Set<string>): number => {
    const parent = node.parentId === null ? undefined : byId.get(node.parentId)
    // A cycle cannot come from a canvas, but ids come from the wire: stop rather than loop.
    if (!parent || seen.has(parent.id)) return 0
    seen.add(parent.id)
    return depthOf(parent, seen) + 1
  }
  for (const node of nodes) node.depth = depthOf(node, new Set([node.id]))
  const edges = nodes.filter((node) => node.parentId !== null && byId.has(node.parentId)).map((node) => ({ from: node.parentId!, to: node.id }))
  const kept = ordered.filter((n) => all.has(n)).length
  return { id, rootId, nodes, edges, total: Math.max(all.size, nodes.length), truncated: kept < all.size }
}
