import { InvalidArgumentError } from '../errors.js'
import type { ExchangeDeclaration, OutgoingMessage, QueueDeclaration, RequestOptions } from './transport.js'

// One set of checks and messages for every transport: callers see one contract.
const EXCHANGE_TYPES = new Set(['direct', 'topic', 'fanout'])
// A subject is dot-separated non-empty tokens without whitespace; wildcard tokens are for patterns.
const SUBJECT = /^[^.\s]+(?:\.[^.\s]+)*$/
const WILDCARD_TOKEN = /(?:^|\.)[*>](?:\.|$)/
const MISPLACED_TAIL = /(?:^|\.)>\./

/** A positive finite number (ms). */
export function isPositive(value: unknown): value is number {
  return typeof value === 'number' && value > 0 && value < Infinity
}

/** A delivery limit: a positive integer or Infinity. */
export function isMaxDeliver(value: unknown): value is number {
  return value === Infinity || (Number.isSafeInteger(value) && (value as number) > 0)
}

/** Throws unless `value` is a non-empty string, naming `field`. */
export function nonEmpty(value: unknown, field: string): void {
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(`${field} must be a non-empty string`)
}

/** Checks an exchange declaration. */
export function validateExchange(exchange: ExchangeDeclaration): void {
  if (typeof exchange?.name !== 'string') throw new InvalidArgumentError('exchange.name must be a string')
  if (!EXCHANGE_TYPES.has(exchange.type)) {
    throw new InvalidArgumentError('exchange.type must be one of direct, topic, fanout')
  }
}

/** Checks a queue declaration. */
export function validateQueue(queue: QueueDeclaration): void {
  nonEmpty(queue?.name, 'queue.name')
  if (queue.ackWaitMs !== undefined && !isPositive(queue.ackWaitMs)) {
    throw new InvalidArgumentError('queue.ackWaitMs must be a positive finite number')
  }
  if (queue.maxDeliver !== undefined && !isMaxDeliver(queue.maxDeliver)) {
    throw new InvalidArgumentError('queue.maxDeliver must be a positive integer')
  }
  if (queue.bindings !== undefined && !Array.isArray(queue.bindings)) {
    throw new InvalidArgumentError('queue.bindings must be an array')
  }
  queue.bindings?.forEach((binding, i) => {
    if (typeof binding?.exchange !== 'string') {
      throw new InvalidArgumentError(`queue.bindings[${i}].exchange must be a string`)
    }
    if (typeof binding.key !== 'string') throw new InvalidArgumentError(`queue.bindings[${i}].key must be a string`)
  })
}

/** Checks a message before it is published. */
export function validateMessage(message: OutgoingMessage): void {
  if (typeof message.exchange !== 'string') throw new InvalidArgumentError('message.exchange must be a string')
  if (typeof message.routingKey !== 'string') throw new InvalidArgumentError('message.routingKey must be a string')
  if (!(message.body instanceof Uint8Array)) throw new InvalidArgumentError('message.body must be a Uint8Array')
  if (message.msgId !== undefined) nonEmpty(message.msgId, 'message.msgId')
  const { notBefore, priority } = message
  if (notBefore !== undefined && !Number.isFinite(notBefore)) {
    throw new InvalidArgumentError('message.notBefore must be a finite number (epoch ms)')
  }
  if (priority !== undefined && !(Number.isInteger(priority) && priority >= 0 && priority <= 9)) {
    throw new InvalidArgumentError('message.priority must be an integer from 0 to 9')
  }
}

/** Checks a subject to broadcast on. */
export function validateSubject(subject: string): void {
  if (typeof subject !== 'string' || !SUBJECT.test(subject) || WILDCARD_TOKEN.test(subject)) {
    throw new InvalidArgumentError('subject must be dot-separated non-empty tokens without wildcards')
  }
}

/** Checks a pattern to subscribe with. */
export function validatePattern(pattern: string): void {
  if (typeof pattern !== 'string' || !SUBJECT.test(pattern) || MISPLACED_TAIL.test(pattern)) {
    throw new InvalidArgumentError('pattern must be dot-separated non-empty tokens, with ">" only as the last token')
  }
}

/** Checks the data and options of a request. */
export function validateRequest(subject: string, data: Uint8Array, options: RequestOptions): void {
  validateSubject(subject)
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('data must be a Uint8Array')
  if (!isPositive(options?.timeoutMs)) throw new InvalidArgumentError('options.timeoutMs must be a positive finite number')
  if (options.max !== undefined && !(Number.isSafeInteger(options.max) && options.max > 0)) {
    throw new InvalidArgumentError('options.max must be a positive integer')
  }
}

/** Checks the arguments of `reserveRate`. */
export function validateRate(key: string, intervalMs: number): void {
  nonEmpty(key, 'key')
  if (!isPositive(intervalMs)) throw new InvalidArgumentError('intervalMs must be a positive finite number')
}
