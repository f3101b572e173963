import fc from 'fast-check'
import t from 'tap'
import { compileSubject, compileTopic, matchSubject, matchTopic } from '../../src/routing/topic.js'

// Reference matchers: recursion over word lists, nothing shared with the regex compiler.
function words(text: string): string[] {
  return text === '' ? [] : text.split('.')
}

function referenceTopic(pattern: string[], key: string[]): boolean {
  if (pattern.length === 0) return key.length === 0
  const [head, ...rest] = pattern
  if (head === '#') return referenceTopic(rest, key) || (key.length > 0 && referenceTopic(pattern, key.slice(1)))
  if (key.length === 0) return false
  return (head === '*' || head === key[0]) && referenceTopic(rest, key.slice(1))
}

function referenceSubject(pattern: string[], subject: string[]): boolean {
  if (pattern.length === 0) return subject.length === 0
  const [head, ...rest] = pattern
  if (head === '>' && rest.length === 0) return subject.length > 0
  if (subject.length === 0) return false
  return (head === '*' || head === subject[0]) && referenceSubject(rest, subject.slice(1))
}

// Few distinct words, so that random patterns and keys actually match; regex-special and
// empty words check the escaping and the handling of separators.
const keyWord = fc.constantFrom('a', 'b', 'c', '', 'a+b', '(x)', 'a#', 'b*')
const topicWord = fc.oneof(keyWord, fc.constantFrom('*', '#', '#'))
const joined = (word: fc.Arbitrary<string>) => fc.array(word, { maxLength: 6 }).map((w) => w.join('.'))
const key = joined(keyWord)
const topicPattern = joined(topicWord)

const token = fc.constantFrom('a', 'b', 'c', '$x', 'a>b', '>')
const subject = fc.array(token, { minLength: 1, maxLength: 5 }).map((w) => w.join('.'))
const subjectPattern = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { maxLength: 5 }), fc.boolean())
  .filter(([body, tail]) => body.length > 0 || tail)
  .map(([body, tail]) => [...body, ...(tail ? ['>'] : [])].join('.'))

t.test('topic - matchTopic agrees with a recursive word matcher', async (t) => {
  fc.assert(
    fc.property(topicPattern, key, (pattern, routingKey) => {
      return matchTopic(pattern, routingKey) === referenceTopic(words(pattern), words(routingKey))
    }),
    { numRuns: 5_000 },
  )
  t.pass()
})

t.test('topic - keys built to fit a pattern match it', async (t) => {
  // Random pairs rarely match; build keys from the pattern so the true side is well covered.
  const fitted = fc.array(topicWord, { maxLength: 6 }).chain((pattern) =>
    fc
      .tuple(
        ...pattern.map((w) => {
          if (w === '#') return fc.array(keyWord, { maxLength: 3 })
          return w === '*' ? keyWord.map((x) => [x]) : fc.constant([w])
        }),
      )
      .map((parts) => [pattern.join('.'), parts.flat().join('.')] as const),
  )
  fc.assert(
    fc.property(fitted, ([pattern, routingKey]) => {
      // Joining can merge a lone empty word into "no words"; the reference decides.
      return matchTopic(pattern, routingKey) === referenceTopic(words(pattern), words(routingKey))
    }),
    { numRuns: 5_000 },
  )
  t.pass()
})

t.test('topic - compileTopic caches one predicate per pattern', async (t) => {
  t.equal(compileTopic('a.*.#'), compileTopic('a.*.#'))
  t.not(compileTopic('a.*'), compileTopic('a.#'))
})

t.test('topic - examples', async (t) => {
  const cases: [string, string, boolean][] = [
    ['feed.#', 'feed', true],
    ['feed.#', 'feed.a', true],
    ['feed.#', 'feed.a.b', true],
    ['feed.#', 'feedx', false],
    ['feed.#', 'x.feed', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y', false],
    ['#', '', true],
    ['#', 'a.b.c', true],
    ['#.#', 'a', true],
    ['#.b', 'b', true],
    ['#.b', 'a.b', true],
    ['#.b', 'ab', false],
    ['*', 'a', true],
    ['*', '', false],
    ['*', 'a.b', false],
    ['*.b', 'b', false],
    ['a.*', 'a.', true],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.c', false],
    ['#.*', '', false],
    ['#.*', 'a', true],
    ['', '', true],
    ['', 'a', false],
    ['a.b', 'a.b', true],
    ['a.b', 'a.bb', false],
    ['a+b', 'aab', false],
    ['a+b', 'a+b', true],
    ['a#', 'a#', true],
    ['a#', 'a.b', false],
  ]
  for (const [pattern, routingKey, expected] of cases) {
    t.equal(matchTopic(pattern, routingKey), expected, `${JSON.stringify(pattern)} ~ ${JSON.stringify(routingKey)}`)
  }
})

t.test('subject - matchSubject agrees with a recursive token matcher', async (t) => {
  fc.assert(
    fc.property(subjectPattern, subject, (pattern, value) => {
      return matchSubject(pattern, value) === referenceSubject(pattern.split('.'), value.split('.'))
    }),
    { numRuns: 5_000 },
  )
  t.pass()
})

t.test('subject - examples', async (t) => {
  const cases: [string, string, boolean][] = [
    ['events.>', 'events.task.started', true],
    ['events.>', 'events.a', true],
    ['events.>', 'events', false],
    ['events.*', 'events.a', true],
    ['events.*', 'events.a.b', false],
    ['*.ping', 'w1.ping', true],
    ['>', 'a', true],
    ['>', 'a.b.c', true],
    ['a.*.c', 'a.b.c', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['a.>.c', 'a.b.c', false],
    ['a.>.c', 'a.>.c', true],
  ]
  for (const [pattern, value, expected] of cases) {
    t.equal(matchSubject(pattern, value), expected, `${pattern} ~ ${value}`)
  }
  t.equal(compileSubject('x.>'), compileSubject('x.>'), 'cached')
})
