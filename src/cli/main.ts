/**
 * The celeriac command line. `worker` runs a node; the other Celery commands (call, result,
 * inspect, control, beat, multi...) come with the remote-control layer.
 */
import { readFileSync } from 'node:fs'
import { UsageError, worker } from './worker.js'
import { beat } from './beat.js'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

const help = `Usage: celeriac <command> [options]

Commands:
  worker    start a worker node (celeriac worker --help)
  beat      send periodic tasks (celeriac beat --help)

Options:
  --version   print the version
  -h, --help  show this help`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '-h' || command === '--help') {
    console.log(help)
    return command === undefined ? 2 : 0
  }
  if (command === '--version') {
    console.log(version)
    return 0
  }
  if (command === 'worker') return worker(rest)
  if (command === 'beat') return beat(rest)
  throw new UsageError(`unknown command "${command}"\n\n${help}`)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: Error) => {
    console.error(`celeriac: ${error.message}`)
    process.exitCode = error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 2 : 1
  },
)
