import type { ConfigValues } from '../config/defaults.js'
import type { TaskDefinition } from '../task/definition.js'

/** What a worker thread needs of an app: its tasks and its configuration. */
export interface AppRegistration {
  readonly name: string
  readonly tasks: ReadonlyMap<string, TaskDefinition>
  readonly conf: Readonly<ConfigValues>
}
