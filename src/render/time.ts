const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A time as a responder reads it: `14:32 UTC`. With `now`, a time on another day also gets its date
 * (`Oct 9 14:32 UTC`) and, where it helps, how long ago it was (`14:32 UTC, 3 min ago`). Never an ISO string with
 * milliseconds: nobody at 2 a.m. parses `2025-10-09T08:55:00.000Z`.
 *
 * Plain text rather than Slack's `<!date^…>` token: the same words then read the same in Slack, in the sandbox, in
 * an email and in a log, and UTC is the one zone an incident's people in several zones share.
 */
export function clockTime(ms: number, now?: number): string {
  const d = new Date(ms);
  const hhmm = `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
  if (now === undefined) return `${hhmm} UTC`;
  const sameDay = new Date(now).toISOString().slice(0, 10) === d.toISOString().slice(0, 10);
  const date = sameDay ? '' : `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} `;
  const ago = relative(now - ms);
  return `${date}${hhmm} UTC${ago ? `, ${ago}` : ''}`;
}

/** "just now", "3 min ago", "2 h ago", "4 days ago"; "in 12 min" for the future; empty beyond a month. */
export function relative(deltaMs: number): string {
  const future = deltaMs < 0;
  const s = Math.abs(deltaMs) / 1000;
  let text: string;
  if (s < 45) return future ? 'in under a minute' : 'just now';
  if (s < 90 * 60) text = `${Math.round(s / 60)} min`;
  else if (s < 36 * 3600) text = `${Math.round(s / 3600)} h`;
  else if (s < 31 * 86400) text = `${Math.round(s / 86400)} days`;
  else return '';
  return future ? `in ${text}` : `${text} ago`;
}

/**
 * A time in a document read later (a post-incident report, an exported timeline, a file's mtime): the date, the time
 * to the second and the zone, `2026-12-01 14:32:05 UTC`. Still never milliseconds or a bare `Z`.
 */
export function dateTime(ms: number): string {
  if (!Number.isFinite(ms)) return '(unknown time)';
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}
