#!/usr/bin/env node
// The celeriac command, in this process (no child: a signal sent to this pid reaches the worker).
// An installed package runs the built CLI from dist/. A checkout (tsconfig.json sits beside
// package.json; the package does not ship it) runs the sources through tsx, so a dist/ left by
// `npm install`'s prepare never shadows the code being edited.
import { existsSync } from 'node:fs'

const dist = new URL('../dist/cli/main.js', import.meta.url)
const checkout = existsSync(new URL('../tsconfig.json', import.meta.url))
if (existsSync(dist) && !checkout) {
  await import(dist.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/cli/main.ts', import.meta.url).href)
}
