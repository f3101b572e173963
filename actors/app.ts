// The app, shared by clients and worker nodes. In your own project: `from 'celeriac'`.
import { createApp } from '../src/index.js'

export const app = createApp({
  name: 'proj',
  broker: process.env.CELERIAC_BROKER_URL ?? 'memory://',
  backend: process.env.CELERIAC_RESULT_BACKEND ?? 'memory://',
  include: ['./tasks.js'],
  config: { resultExpires: 3600 },
})
