import { readFileSync } from 'node:fs'

/** One marked block of the README's quick start. */
export interface QuickstartStep {
  /** `install`: shell commands that install celeriac; `file`: a file to save; `run`: shell commands; `output`: what the `run` before it prints. */
  kind: 'install' | 'file' | 'run' | 'output'
  /** The file name of a `file` step; `nats` for a `run` that needs a NATS server. */
  arg?: string
  body: string
}

const SECTION = /^## Quick start\n([\s\S]*?)(?=^## )/m
const MARKED = /<!-- quickstart: (install|file|run|output)(?: (\S+))? -->\n```[\w-]*\n([\s\S]*?)```/g
const FENCE = /^```/gm

/**
 * The README's quick start, block by block, in order. Each block is marked by the HTML comment
 * before it (`<!-- quickstart: file app.ts -->`, `<!-- quickstart: run -->`, ...), so what is
 * run is what the reader sees; a code block left unmarked is an error, so no snippet of the
 * quick start can escape the test.
 */
export function quickstartSteps(readme: string): QuickstartStep[] {
  const section = SECTION.exec(readFileSync(readme, 'utf8'))?.[1]
  if (section === undefined) throw new Error(`${readme} has no "## Quick start" section`)
  const steps = [...section.matchAll(MARKED)].map(([, kind, arg, body]) => ({ kind: kind as QuickstartStep['kind'], arg, body: body! }))
  const blocks = (section.match(FENCE) ?? []).length / 2
  if (blocks !== steps.length) throw new Error(`the quick start has ${blocks} code blocks and ${steps.length} quickstart markers: mark every block`)
  return steps
}
