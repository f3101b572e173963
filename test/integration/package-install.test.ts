import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { tempDir } from '../helpers/files.js'
import { installTarball, packedTarball } from '../helpers/packed-tarball.js'

// What a new user does: `npm pack` a clone, install the tarball into an empty project, import
// it from JavaScript and TypeScript, run its bin. The pack (whose `prepare` builds dist/) runs on
// a copy of the clone, once for this test and the README's quick start (helpers/packed-tarball).
const run = promisify(execFile)
t.setTimeout(120_000)

t.test('package - npm pack builds dist/; the tarball installs, imports from .mjs and .ts, and its bin runs', async (t) => {
  const dir = tempDir(t)
  const tarball = await packedTarball()
  const { stdout: listing } = await run('tar', ['-tzf', tarball.path])
  t.match(listing, /^package\/dist\/index\.js$/m, 'the tarball has dist/ (built by prepare)')
  t.match(listing, /^package\/dist\/cli\/main\.js$/m)
  t.notMatch(listing, /^package\/tsconfig\.json$/m, 'no tsconfig.json: the installed bin runs dist/, not the sources')
  t.comment(tarball.packMs === 0 ? 'npm pack: the tarball another test file packed from the same sources' : `npm pack (with the build): ${tarball.packMs} ms`)

  const project = join(dir, 'project')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'first-hour', private: true, type: 'module' }))
  const started = Date.now()
  await installTarball(project, tarball.path)
  t.comment(`npm install of the tarball: ${Date.now() - started} ms`)
  t.same(readdirSync(join(project, 'node_modules/celeriac')).sort(), ['LICENSE', 'README.md', 'bin', 'dist', 'package.json', 'src'])

  // The app in its own module (worker threads import it), used from a .mjs and a .ts script.
  writeFileSync(join(project, 'app.mjs'), `import { createApp } from 'celeriac'
export const app = createApp({ name: 'first-hour' })
export const add = app.task('first.add', (x, y) => x + y)
`)
  writeFileSync(join(project, 'main.mjs'), `import { app, add } from './app.mjs'
import { NatsTransport } from 'celeriac/nats'
const node = app.worker({ concurrency: 1 })
await node.start()
console.log(await (await add.delay(20, 22)).get({ timeout: 10 }), typeof NatsTransport)
await node.stop()
await app.close()
`)
  writeFileSync(join(project, 'app.ts'), `import { createApp, type App } from 'celeriac'
export const app: App = createApp({ name: 'first-hour-ts' })
export const mul = app.task('first.mul', (x: number, y: number): number => x * y)
`)
  writeFileSync(join(project, 'main.ts'), `import { app, mul } from './app.ts'
import { connectNats } from 'celeriac/nats'
const node = app.worker({ concurrency: 1 })
await node.start()
const product: number = await (await mul.delay(6, 7)).get({ timeout: 10 })
console.log(product, typeof connectNats)
await node.stop()
await app.close()
`)
  const bin = join(project, 'node_modules/.bin')
  // TS consumer audit: a CommonJS project's require('celeriac') failed with "No exports main
  // defined"; the package is ESM without top-level await, which Node 22.12+ can require.
  const required = "const { createApp } = require('celeriac'); const { SimulatedClock } = require('celeriac/testing'); console.log(typeof createApp, typeof SimulatedClock)"
  const [mjs, ts, help, worker, cjs] = await Promise.all([
    run(process.execPath, ['main.mjs'], { cwd: project }),
    run(process.execPath, [join(bin, 'tsx'), 'main.ts'], { cwd: project }),
    // The bin as the shell runs it (its shebang, its executable bit).
    run(join(bin, 'celeriac'), ['--help'], { cwd: project }),
    run(process.execPath, [join(bin, 'celeriac'), 'worker', '--help'], { cwd: project }),
    run(process.execPath, ['--no-warnings', '-e', required], { cwd: project }),
  ])
  t.equal(mjs.stdout, '42 function\n', 'import celeriac and celeriac/nats from a .mjs file')
  t.equal(ts.stdout, '42 function\n', 'import celeriac and celeriac/nats from a .ts file run by the installed tsx')
  t.match(help.stdout, /^Usage: celeriac \[-A <module>\] <command>/)
  t.match(worker.stdout, /^Usage: celeriac worker -A <module>/)
  t.equal(cjs.stdout, 'function function\n', 'require() from CommonJS')

  // TS consumer audit: a library of the user's built with declarations could not name the types
  // of app.tasks or of an event stream (TS2742: "cannot be named without a reference to
  // node_modules/celeriac/dist/task/definition.js").
  writeFileSync(join(project, 'lib.ts'), `import { app } from './app.ts'
import { memoryBroker } from 'celeriac/testing'
export const registry = app.tasks
export const failures = app.events.subscribe('task-failed')
export const node = app.worker({ concurrency: 1 })
export const options = node.options
export const queue = memoryBroker('lib').queue('celery')
`)
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', declaration: true, emitDeclarationOnly: true, outDir: 'types', allowImportingTsExtensions: true, rewriteRelativeImportExtensions: true, skipLibCheck: true, typeRoots: [fileURLToPath(new URL('../../node_modules/@types', import.meta.url))], types: ['node'] },
    files: ['lib.ts'],
  }))
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url))
  const declared = await run(process.execPath, [tsc, '-p', '.'], { cwd: project }).then(() => '', (error: { stdout: string }) => error.stdout)
  t.equal(declared, '', "the user's declarations name every type they infer")
})
