// Issue 13: CI runs the short chaos command (`npm run chaos -- --short`, fewer tasks still):
// worker SIGKILLs, a nats-server SIGKILL with delayed tasks, a 3-node cluster losing the queue
// stream's leader, a flood of malformed messages. No task may be lost in any of them, no
// delayed task may run early, and the command must print its table and its JSON.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
// Four scenarios, each starting servers and worker processes.
t.setTimeout(180_000)

t.test('npm run chaos -- --short: nothing lost in any scenario', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/chaos.ts', '--short', '--n', '150', '--kills', '1'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk))
  child.stderr.on('data', (chunk: Buffer) => (out += chunk))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 0, code === 0 ? 'exit 0' : `exit ${code}:\n${out}`)
  t.match(out, /scenario\s+sent\s+completed\s+lost\s+ran >1\s+dead-lettered\s+worker RSS before \/ after, MiB/, 'prints the table')
  const json = JSON.parse(out.trim().split('\n').at(-1)!) as { outcomes: { scenario: string; sent: number; completed: number; lost: number; deadLettered: number; note: string }[] }
  t.same(json.outcomes.map((o) => o.scenario), ['worker-kills', 'server-restart', 'cluster-leader', 'malformed-flood'])
  for (const o of json.outcomes) {
    t.equal(o.lost, 0, `${o.scenario}: nothing lost`)
    t.equal(o.completed, o.sent, `${o.scenario}: every task SUCCESS`)
  }
  t.match(json.outcomes[1].note, / 0 ran before their ETA/, 'no delayed task ran early')
  t.ok(json.outcomes[3].deadLettered > 0, 'the malformed messages are dead-lettered')
})
