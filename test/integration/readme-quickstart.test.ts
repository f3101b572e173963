import t from 'tap'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { tempDir } from '../helpers/files.js'
import { packedTarball } from '../helpers/packed-tarball.js'
import { quickstartSteps } from '../helpers/quickstart.js'
import { natsServerAvailable, startNatsServer } from '../../src/testing/nats-server.js'

// The README's quick start as a new user meets it: every block pasted in order into an empty
// folder, celeriac installed from the packed tarball (the one place the test departs from the
// text: the tarball path), the files type-checked under strict settings, each command run and
// its output compared with what the README promises.
const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const tsc = fileURLToPath(import.meta.resolve('typescript/bin/tsc'))
t.setTimeout(120_000)

/** npm from its cache only: the test needs no network. */
const npmEnv = { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_loglevel: 'error', npm_config_update_notifier: 'false' }
const bash = (script: string, cwd: string, env: NodeJS.ProcessEnv = npmEnv) => run('bash', ['-e', '-c', script], { cwd, env, timeout: 60_000 })

t.test('README quick start: pasted in order into an empty folder, it runs and prints what it says', async (t) => {
  const steps = quickstartSteps(join(root, 'README.md'))
  t.same(steps.map((step) => step.kind + (step.arg ? ` ${step.arg}` : '')), ['install', 'file app.ts', 'file tasks.ts', 'file main.ts', 'run', 'output', 'run nats'])
  const project = tempDir(t)
  const tarball = await packedTarball()

  const outputs: Record<string, string> = {}
  for (const [index, step] of steps.entries()) {
    const started = Date.now()
    if (step.kind === 'install') {
      await bash(step.body.replace(/\S+\.tgz/g, tarball.path), project)
    } else if (step.kind === 'file') {
      writeFileSync(join(project, step.arg!), step.body)
    } else if (step.kind === 'output') {
      t.equal(outputs[index - 1], step.body, 'the run before it prints what the README shows')
    } else if (step.arg === undefined) {
      // Before running: the files must also compile, as a user's editor and `tsc` would check them.
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', target: 'es2023', noEmit: true, skipLibCheck: true, types: ['node'] } }))
      const checked = await run(process.execPath, [tsc, '-p', '.', '--typeRoots', join(root, 'node_modules/@types')], { cwd: project }).then(() => '', (error: { stdout: string }) => error.stdout)
      t.equal(checked, '', 'the quick start type-checks (strict, nodenext)')
      outputs[index] = (await bash(step.body, project)).stdout
    } else if (step.arg === 'nats') {
      if (!natsServerAvailable()) {
        t.pass('the NATS part of the quick start', { skip: 'nats-server is not installed' })
        continue
      }
      const server = await startNatsServer()
      t.teardown(() => server.cleanup())
      const { stdout } = await bash(step.body.replaceAll('nats://127.0.0.1:4222', server.url), project)
      t.match(stdout, /^celeriac@\S+ ready\.$/m, 'the worker says it is ready')
      t.match(stdout, /ready\.\n4\n/, 'result prints 4')
      t.match(stdout, /^celeriac@\S+ offline\.$/m, 'kill %1 stops it warm')
    }
    if (step.kind !== 'file' && step.kind !== 'output') t.comment(`${step.kind}${step.arg ? ` ${step.arg}` : ''}: ${Date.now() - started} ms`)
  }
  t.comment(tarball.packMs === 0 ? 'npm pack: the tarball another test file packed from the same sources' : `npm pack (with the build): ${tarball.packMs} ms`)
})
