/**
 * The main thread's side of the memory:// relay (see relay-messages.ts): serves each port a
 * worker thread opens with a connection of its own to the memory:// broker or result store of
 * that name, the one the node consumes from and records to.
 * @module
 */
import { isMainThread, type MessagePort } from 'node:worker_threads'
import { toWireError } from '../../serialization/failure.js'
import { systemClock, type Clock } from '../../util/clock.js'
import { MemoryTransport } from '../../transport/memory/memory-transport.js'
import { memoryBroker } from '../../transport/memory/memory-broker.js'
import { MemoryBackend, memoryResultStore } from '../../result/memory/memory-backend.js'
import { RELAY_OPEN, RELAYED_TRANSPORT_CALLS, type RelayAnswer, type RelayChange, type RelayOpen, type RelayRequest } from './relay-messages.js'

let serving = false
/** The clock of the first node made here: what the relayed connections time with, as its own do. */
let clock: Clock = systemClock

/**
 * Serves the memory:// relay of this process's worker threads, from now on. Called when a
 * worker node is made (only a node's threads relay), with its clock; later calls do nothing.
 */
export function serveThreadRelay(nodeClock: Clock): void {
  if (serving || !isMainThread) return
  serving = true
  clock = nodeClock
  process.on('workerMessage', (value: unknown) => {
    const open = value as Partial<RelayOpen> | null
    if (open?.type !== RELAY_OPEN || open.served || open.port === undefined) return
    open.served = true
    if (open.kind === 'broker') serveBroker(open as RelayOpen)
    else serveBackend(open as RelayOpen)
  })
}

const TRANSPORT_CALLS: ReadonlySet<string> = new Set(RELAYED_TRANSPORT_CALLS)

function serveBroker(open: RelayOpen): void {
  const transport = new MemoryTransport({ broker: memoryBroker(open.name), clock, ...(open.ackWaitMs === undefined ? {} : { ackWaitMs: open.ackWaitMs }), ...(open.maxDeliver === undefined ? {} : { maxDeliver: open.maxDeliver }) })
  const connected = transport.connect()
  serve(open.port, () => void transport.close(), (request) => {
    if (!('args' in request) || !TRANSPORT_CALLS.has(request.call)) return Promise.reject(new TypeError(`not a relayed transport call: ${JSON.stringify(request)}`))
    const method = (transport as unknown as Record<string, (...args: unknown[]) => unknown>)[request.call]
    return connected.then(() => method.apply(transport, request.args))
  })
}

function serveBackend(open: RelayOpen): void {
  const backend = new MemoryBackend({ store: memoryResultStore(open.name), clock, ...(open.resultExpiresMs === undefined ? {} : { resultExpiresMs: open.resultExpiresMs }) })
  const watches = new Map<number, () => void>()
  serve(open.port, () => {
    for (const unwatch of watches.values()) unwatch()
    void backend.close()
  }, (request, port) => {
    if ('unwatch' in request) {
      watches.get(request.unwatch)?.()
      watches.delete(request.unwatch)
      return undefined
    }
    const args = request.call === 'watch' ? [] : request.args
    switch (request.call) {
      case 'watch':
        return backend.watch(request.taskId, (meta) => port.postMessage({ watch: request.watch, meta } satisfies RelayChange)).then((unwatch) => void watches.set(request.watch, unwatch))
      case 'store':
        return backend.store(args[0] as Parameters<MemoryBackend['store']>[0])
      case 'get':
        return backend.get(args[0] as string)
      case 'forget':
        return backend.forget(args[0] as string)
      case 'chordStart':
        return backend.chords.start(args[0] as Parameters<MemoryBackend['chords']['start']>[0])
      case 'partReturn':
        return backend.chords.partReturn(args[0] as string, args[1] as number[], args[2] as number)
      default:
        return Promise.reject(new TypeError(`not a relayed result backend call: ${request.call}`))
    }
  })
}

/** Answers each request on `port` with what `handle` resolves to; `closed` runs once the thread is gone. */
function serve(port: MessagePort, closed: () => void, handle: (request: RelayRequest, port: MessagePort) => Promise<unknown> | undefined): void {
  port.on('message', (request: RelayRequest) => {
    let done: Promise<unknown> | undefined
    try {
      done = handle(request, port)
    } catch (error) {
      done = Promise.reject(error)
    }
    const id = 'id' in request ? request.id : 0
    if (done === undefined) return
    done.then(
      (value) => id !== 0 && port.postMessage({ id, value } satisfies RelayAnswer),
      (error: unknown) => id !== 0 && port.postMessage({ id, error: toWireError(error) } satisfies RelayAnswer),
    )
  })
  port.once('close', closed)
  // The node keeps the process alive while it runs, not a thread's relay.
  port.unref()
}
