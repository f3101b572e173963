import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// A new user's first single-file app: the module that defines the tasks also starts the
// worker. With top-level await it used to exit with code 13 and a bare "unsettled top-level
// await" warning; now it fails with a message that says why and what to do.
const root = fileURLToPath(new URL('../..', import.meta.url))
const tsx = fileURLToPath(import.meta.resolve('tsx/cli'))

function runScript(fixture: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [tsx, `test/fixtures/${fixture}`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })))
}

t.test('a module that awaits a worker it starts itself fails with a ConfigError saying how to fix it, not exit 13', async (t) => {
  const { code, stdout, stderr } = await runScript('self-starting-app.ts')
  t.equal(code, 1, 'an uncaught error, not 13')
  t.equal(stdout, '')
  t.match(stderr, /ConfigError: a worker node was started while its app module file:\S+self-starting-app\.ts was still loading, and the node imports that module before it starts \(so does each worker thread\): it waits for itself\. Start the worker from another module that imports the app/)
  t.notMatch(stderr, /unsettled top-level await/)
})

t.test('without top-level await, the thread that imports the module says the same', async (t) => {
  const { code, stderr } = await runScript('self-starting-nowait.ts')
  t.equal(code, 3)
  t.match(stderr, /ConfigError: app\.worker\(\) was called inside a worker thread: file:\S+self-starting-nowait\.ts starts a worker when it is imported, and every worker thread imports it to find the tasks\. Start the worker from another module that imports the app, or only on the main thread/)
})

t.test('guarded by isMainThread, one file serves as app and starter', async (t) => {
  const { code, stdout, stderr } = await runScript('self-starting-guarded.ts')
  t.equal(stdout, '4\n', stderr)
  t.equal(code, 0)
})
