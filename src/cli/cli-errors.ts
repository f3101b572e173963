/** A mistake on the command line: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** A command that ran but failed (a task failed, no node replied, a node refused): exit code 1. */
export class CommandFailed extends Error {
  override name = 'CommandFailed'
}
