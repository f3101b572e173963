import t from 'tap'
import { MemoryBackend, MemoryResultStore, memoryResultStore } from '../../src/result/memory/memory-backend.js'
import { runBackendSuite } from './backend.case.js'

runBackendSuite(t, {
  name: 'memory (private store)',
  create: async () => {
    const store = new MemoryResultStore('conformance')
    return { backend: new MemoryBackend({ store }), second: async () => new MemoryBackend({ store }) }
  },
})

// The store of `memory://`, shared by the whole process, as an app would use it.
runBackendSuite(t, {
  name: 'memory (process store)',
  create: async () => ({ backend: new MemoryBackend(), second: async () => new MemoryBackend({ store: memoryResultStore('') }) }),
})
