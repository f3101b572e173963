/** An option line of a help text: `  -x, --long <arg>` or `      --long`, then its description. */
const OPTION = /^( {2}(?:-\w, | {4})--[\w-]+(?: <[^>]+>)?) +(\S.*)$/

/** Aligns the descriptions of a help text's option lines on one column, two spaces past the longest. */
export function alignOptions(help: string): string {
  const lines = help.split('\n')
  const width = Math.max(0, ...lines.map((line) => OPTION.exec(line)?.[1].length ?? 0)) + 2
  return lines.map((line) => {
    const match = OPTION.exec(line)
    return match ? match[1].padEnd(width) + match[2] : line
  }).join('\n')
}
