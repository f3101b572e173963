#!/usr/bin/env node
// The celeriac command: runs the built CLI from dist/, or the source through tsx when not built.
import { existsSync } from 'node:fs'

const dist = new URL('../dist/cli/main.js', import.meta.url)
if (existsSync(dist)) {
  await import(dist.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/cli/main.ts', import.meta.url).href)
}
