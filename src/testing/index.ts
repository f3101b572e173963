/**
 * Helpers for testing code that uses celeriac: simulated time, the embedded broker and result
 * store by name, and a latch for "N things happened".
 * @module
 */
export { SimulatedClock, systemClock } from '../util/clock.js'
export { MemoryTransport } from '../transport/memory/memory-transport.js'
export { MemoryBroker, memoryBroker } from '../transport/memory/memory-broker.js'
export { MemoryBackend, MemoryResultStore, memoryResultStore } from '../result/memory/memory-backend.js'
export { Latch } from './latch.js'

export type { Clock } from '../util/clock.js'
export type { MemoryTransportOptions } from '../transport/memory/memory-transport.js'
export type { MemoryBackendOptions } from '../result/memory/memory-backend.js'
export { startNatsServer, startNatsCluster, natsServerAvailable } from './nats-server.js'
export type { NatsServer, StartNatsServerOptions, NatsCluster, ClusterNode } from './nats-server.js'
export type { TimerHandle } from '../util/clock.js'
export type { MemoryQueue, QueueSettings } from '../transport/memory/memory-queue.js'
export type { MemoryConsumer, ConsumerSource } from '../transport/memory/memory-consumer.js'
export type { MemoryDelivery, DeliveryOwner } from '../transport/memory/memory-delivery.js'
export type { StoredMessage } from '../transport/memory/stored-message.js'
export type { StoredRecord } from '../result/memory/memory-backend.js'
export type { Subscriber } from '../transport/memory/memory-broker.js'
export type { TopicPredicate } from '../routing/topic.js'
