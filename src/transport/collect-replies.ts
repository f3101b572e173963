import type { RequestOptions } from './transport.js'

/**
 * Gathers replies for `Transport.request`: `open` starts listening and sends the request,
 * handing each reply to `push`, and returns how to stop listening. Resolves with the replies
 * in arrival order once `options.timeoutMs` runs out or `options.max` replies came; rejects
 * at once when `open` calls `fail` (the server refused the request, say).
 *
 * The timeout is a real, ref'd timer rather than the transport's clock: it measures a wait on
 * other processes, and a caller awaiting replies (a CLI command) must stay alive for it.
 */
export function collectReplies(options: RequestOptions, open: (push: (reply: Uint8Array) => void, fail: (error: Error) => void) => () => void): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const replies: Uint8Array[] = []
    let done = false
    let close = () => {}
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      close()
      resolve(replies)
    }
    const timer = setTimeout(finish, options.timeoutMs)
    const push = (reply: Uint8Array) => {
      if (done) return
      replies.push(reply)
      if (options.max !== undefined && replies.length >= options.max) finish()
    }
    const fail = (error: Error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      close()
      reject(error)
    }
    try {
      close = open(push, fail)
    } catch (error) {
      done = true
      clearTimeout(timer)
      return reject(error)
    }
    if (done) close()
  })
}
