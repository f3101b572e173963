import { fileURLToPath, pathToFileURL } from 'node:url'

const here = fileURLToPath(new URL('..', import.meta.url))

/**
 * The URL of the module that called into celeriac (the first stack frame outside celeriac's
 * own source), so that `createApp` knows which module to import in worker threads without the
 * user passing `import.meta.url`.
 */
export function callerModuleUrl(): string | undefined {
  const original = Error.prepareStackTrace
  try {
    Error.prepareStackTrace = (_, frames) => frames
    const frames = (new Error().stack as unknown as NodeJS.CallSite[]) ?? []
    for (const frame of frames) {
      const file = frame.getFileName()
      if (!file || file.startsWith('node:')) continue
      const path = file.startsWith('file:') ? fileURLToPath(file) : file
      if (path.startsWith(here)) continue
      return file.startsWith('file:') ? file : pathToFileURL(file).href
    }
    return undefined
  } finally {
    Error.prepareStackTrace = original
  }
}
