/**
 * Pattern matching for routing: AMQP topic binding keys (`*`, `#`) and NATS subjects (`*`, `>`).
 * @module
 */

/** A compiled pattern: true when the key (or subject) matches. */
export type TopicPredicate = (key: string) => boolean

const matchAll: TopicPredicate = () => true

// Binding keys are few and live long; the cap only guards against callers compiling
// unbounded, generated patterns.
const CACHE_LIMIT = 10_000
const topicCache = new Map<string, TopicPredicate>()
const subjectCache = new Map<string, TopicPredicate>()

function cached(
  cache: Map<string, TopicPredicate>,
  pattern: string,
  build: (pattern: string) => TopicPredicate,
): TopicPredicate {
  let predicate = cache.get(pattern)
  if (predicate === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear()
    predicate = build(pattern)
    cache.set(pattern, predicate)
  }
  return predicate
}

function escapeRegExp(word: string): string {
  return word.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')
}

function buildTopic(pattern: string): TopicPredicate {
  if (!pattern.includes('*') && !pattern.includes('#')) return (key) => key === pattern
  // Adjacent `#` words mean the same as one, and collapsing them keeps the regex linear.
  const words = (pattern === '' ? [] : pattern.split('.')).filter(
    (word, i, all) => !(word === '#' && all[i - 1] === '#'),
  )
  if (words.every((word) => word === '#')) return matchAll
  // Separators belong to words: a `#` that matches no word must take no dot with it.
  // `sep` says whether a word has been emitted, so the next one starts with a dot.
  let source = ''
  let sep = false
  for (const word of words) {
    if (word === '#') {
      source += sep ? '(?:\\.[^.]*)*' : '(?:[^.]*\\.)*'
    } else {
      source += (sep ? '\\.' : '') + (word === '*' ? '[^.]*' : escapeRegExp(word))
      sep = true
    }
  }
  const regex = new RegExp('^' + source + '$')
  // The empty key has no words; only all-`#` patterns match it, and those returned above.
  return (key) => key !== '' && regex.test(key)
}

/**
 * Compiles an AMQP topic binding key into a predicate over routing keys, cached per pattern.
 *
 * Words are separated by dots; `*` matches exactly one word and `#` zero or more words,
 * anywhere in the pattern. The empty key has no words, so only patterns made of `#` alone
 * match it. Any other word matches itself literally.
 * @example
 * const feed = compileTopic('feed.#')
 * feed('feed') // true
 * feed('feed.a.b') // true
 * feed('feedx') // false
 */
export function compileTopic(pattern: string): TopicPredicate {
  return cached(topicCache, pattern, buildTopic)
}

/**
 * True when the AMQP topic binding key `pattern` matches the routing key `key`.
 * @see {@link compileTopic} for the rules.
 * @example
 * matchTopic('a.#.b', 'a.x.y.b') // true
 * matchTopic('*.b', 'b') // false
 */
export function matchTopic(pattern: string, key: string): boolean {
  return compileTopic(pattern)(key)
}

function buildSubject(pattern: string): TopicPredicate {
  if (pattern === '>') return (subject) => subject !== ''
  if (!pattern.includes('*') && !pattern.includes('>')) return (subject) => subject === pattern
  const tokens = pattern.split('.')
  const last = tokens.length - 1
  const tail = tokens[last] === '>'
  const fixed = tail ? last : tokens.length
  return (subject) => {
    const parts = subject.split('.')
    if (tail ? parts.length <= fixed : parts.length !== fixed) return false
    for (let i = 0; i < fixed; i++) {
      const token = tokens[i]
      if (token !== '*' && token !== parts[i]) return false
    }
    return true
  }
}

/**
 * Compiles a NATS subject pattern into a predicate over subjects, cached per pattern.
 *
 * Tokens are separated by dots; `*` matches exactly one token and `>`, only as the last
 * token, one or more trailing tokens. A `>` anywhere else matches only itself.
 * @example
 * const events = compileSubject('events.>')
 * events('events.task.started') // true
 * events('events') // false
 */
export function compileSubject(pattern: string): TopicPredicate {
  return cached(subjectCache, pattern, buildSubject)
}

/**
 * True when the NATS subject pattern `pattern` matches `subject`.
 * @see {@link compileSubject} for the rules.
 * @example
 * matchSubject('control.*.ping', 'control.w1.ping') // true
 */
export function matchSubject(pattern: string, subject: string): boolean {
  return compileSubject(pattern)(subject)
}
