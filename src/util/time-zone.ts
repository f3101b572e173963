/**
 * Whether `zone` names a time zone this runtime knows (an IANA name such as
 * `'Europe/London'`, or `'UTC'`).
 */
export function isTimeZone(zone: unknown): zone is string {
  if (typeof zone !== 'string' || zone === '') return false
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}
