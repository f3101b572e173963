/**
 * The canvas layer's built-in tasks, which every app registers: the identity task that stands
 * for a group where one task must end a part, and the loop behind map and starmap.
 * @module
 */
import type { RunLocal } from './host.js'

/** Name of the built-in task that returns its argument: the completion of a group that must end in one task. */
export const IDENTITY_TASK = 'celeriac.identity'

/** Calls task `name` here on each argument list, one after another: the body of the built-in map and starmap. */
export async function callEach(runLocal: RunLocal, name: string, argLists: readonly unknown[][]): Promise<unknown[]> {
  const results: unknown[] = []
  for (const args of argLists) results.push(await runLocal(name, args))
  return results
}
