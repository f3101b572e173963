import { randomUUID } from 'node:crypto'

/** A new task id (a UUID v4, as Celery's). */
export function newTaskId(): string {
  return randomUUID()
}
