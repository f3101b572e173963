import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
/** What `npm pack` reads: the clone copied before packing holds only these. */
const PACKED = ['LICENSE', 'package.json', 'bin', 'src', 'tsconfig.json', 'tsconfig.build.json', 'README.md']

/** A packed tarball of this checkout, and how it was obtained. */
export interface Tarball {
  path: string
  /** ms spent packing; 0 when an earlier test file of this run had packed the same sources. */
  packMs: number
}

/**
 * `npm pack` of this checkout, as a user packs a clone (its `prepare` builds dist/). The pack
 * takes about 10 s, so the tarball is kept in the temporary directory under a hash of what
 * went into it: the test files that install it (package-install, readme-quickstart) pack once
 * per change of the sources. The clone is a copy, so the build leaves this checkout alone.
 */
export async function packedTarball(): Promise<Tarball> {
  const cache = join(tmpdir(), `celeriac-pack-${sourceHash()}`)
  const done = join(cache, 'celeriac.tgz')
  if (existsSync(done)) return { path: done, packMs: 0 }
  const started = Date.now()
  const work = mkdtempSync(join(tmpdir(), 'celeriac-pack-work-'))
  try {
    const clone = join(work, 'clone')
    mkdirSync(clone)
    for (const entry of PACKED) cpSync(join(root, entry), join(clone, entry), { recursive: true })
    symlinkSync(realpathSync(join(root, 'node_modules')), join(clone, 'node_modules'))
    const packed = await run('npm', ['pack', '--silent'], { cwd: clone })
    mkdirSync(cache, { recursive: true })
    // A rename is atomic: a test file that looks at the same time sees the whole tarball or none.
    renameSync(join(clone, packed.stdout.trim().split('\n').pop()!), done)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return { path: done, packMs: Date.now() - started }
}

/** A hash of every file `npm pack` reads (names and contents). */
function sourceHash(): string {
  const hash = createHash('sha256')
  const add = (path: string) => {
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) add(join(path, name))
    } else {
      hash.update(path.slice(root.length)).update('\0').update(readFileSync(path)).update('\0')
    }
  }
  for (const entry of PACKED) add(join(root, entry))
  return hash.digest('hex').slice(0, 16)
}

/** Installs `tarball` into `project` as a user does (from npm's cache: no network needed). */
export async function installTarball(project: string, tarball: string): Promise<void> {
  await run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project })
}
