/**
 * Secrets a host's command lines can carry, hidden in what ward posts (Slack, email). The evidence bundle keeps
 * the raw data: it is the record; a channel message is read by everyone in the channel and kept by Slack.
 *
 * Patterns, not a parser: a command line is cut at 300 characters and may be anything. Each pattern keeps the
 * name (so a reader still sees *that* a token was passed, and which) and replaces the value.
 */
const REDACTED = '[redacted]';

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // --env {"AWS_…": "…", …}: a JSON blob of environment variables, to its closing brace or the end of the text.
  [/(--env(?:=|\s+))\{(?:[^{}]|\{[^{}]*\})*(?:\}|$)/g, `$1{${REDACTED} environment}`],
  // "SOME_TOKEN": "value" inside JSON.
  [
    /("[A-Za-z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)[A-Za-z0-9_]*"\s*:\s*)"(?:[^"\\]|\\.)*"/gi,
    `$1"${REDACTED}"`,
  ],
  // SOME_KEY=value, API_TOKEN=value, DB_PASSWORD=value (environment-style assignments).
  [
    /\b([A-Za-z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)[A-Za-z0-9_]*)=("[^"]*"|'[^']*'|\S+)/gi,
    `$1=${REDACTED}`,
  ],
  // --password x, --password=x, --token x, --api-key x, --secret x.
  [
    /(--(?:password|passwd|pass|token|secret|api[-_]?key|access[-_]?key|secret[-_]?key)(?:=|\s+))("[^"]*"|'[^']*'|\S+)/gi,
    `$1${REDACTED}`,
  ],
  // Authorization: Bearer abc / Basic abc (an HTTP header passed to curl -H).
  [/(Authorization:\s*)(?:(?:Bearer|Basic|Token|Digest)\s+)?[^\s'"]+/gi, `$1${REDACTED}`],
  // AWS access key ids (long-term AKIA…, temporary ASIA…).
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, `$1${REDACTED}`],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
