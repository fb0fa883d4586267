import type { ForensicsResult } from '../actions/forensics.js';
import type { ChatMessage } from '../ports/chat.js';
import { code, context, divider, esc, fields, header, section } from './blocks.js';
import { userText } from './user-text.js';

export interface ForensicSummaryInput {
  result: ForensicsResult;
  address: string;
  requestId: string;
  bundleName: string;
  bundleSha256: string;
  evidenceDir: string;
}

const MAX_LINES = 8;

function list(lines: readonly string[], empty: string): string {
  if (lines.length === 0) return empty;
  const shown = lines.slice(0, MAX_LINES).map((l) => `• ${l}`);
  if (lines.length > MAX_LINES) shown.push(`… and ${lines.length - MAX_LINES} more (see the bundle)`);
  return shown.join('\n');
}

/**
 * The forensic summary a responder reads in 20 seconds: host and time, what was collected, then the highlights
 * (suspicious processes, listeners, sessions, failures). The full evidence follows as an uploaded file.
 */
export function renderForensicSummary(input: ForensicSummaryInput): ChatMessage {
  const { result, address } = input;
  const h = result.highlights;
  const total = result.artifacts.length;
  const ok = result.artifacts.filter((a) => a.status === 'ok').length;
  const truncated = result.artifacts.filter((a) => a.truncated).length;
  const when = new Date(result.startedAt).toISOString().replace('.000Z', 'Z');
  const flag = h.suspiciousProcesses.length > 0 ? ':rotating_light:' : ':mag:';
  const text = `${flag} Forensics on ${result.host}: ${ok}/${total} artifacts collected, ${h.suspiciousProcesses.length} suspicious process(es), ${h.listeners.length} listener(s), ${h.failures.length} problem(s).`;
  return {
    text,
    blocks: [
      header(`Forensics: ${result.host}`),
      fields([
        ['Host', `${esc(result.host)} (${code(address)})`],
        ['Collected', `${when} in ${(result.durationMs / 1000).toFixed(1)} s`],
        [
          'Artifacts',
          `${ok} of ${total} collected${truncated > 0 ? `, ${truncated} truncated` : ''}${h.failures.length > 0 ? `, ${h.failures.length} with problems` : ''}`,
        ],
        ['Request', code(input.requestId)],
      ]),
      section(
        `*${h.suspiciousProcesses.length > 0 ? ':rotating_light: ' : ''}Suspicious processes (${h.suspiciousProcesses.length})*\n${list(
          h.suspiciousProcesses.map(
            (p) =>
              `pid ${code(p.pid)} ${userText(p.exe, 120)}: ${esc(p.why)}${p.cmdline ? ` (${userText(p.cmdline, 80)})` : ''}`,
          ),
          'none found (no executable deleted or running from /tmp, /var/tmp, /dev/shm)',
        )}`,
      ),
      section(
        `*Listening (${h.listeners.length})*\n${list(
          h.listeners.map((l) => userText(l, 120)),
          'no listener found',
        )}`,
      ),
      section(
        `*Sessions now (${h.sessions.length})*\n${list(
          h.sessions.map((s) => userText(s, 120)),
          'nobody logged in',
        )}`,
      ),
      ...(h.failures.length > 0
        ? [
            section(
              `*Problems (${h.failures.length})*\n${list(
                h.failures.map((f) => `${esc(f.name)}: ${esc(f.note ?? f.status)}`),
                '',
              )}`,
            ),
          ]
        : []),
      divider(),
      context(
        `Evidence: ${code(input.bundleName)} sha256 ${code(input.bundleSha256)}, kept in ${code(input.evidenceDir)} with manifest.json (every artifact's command, exit code, duration, size, sha256).`,
      ),
    ],
  };
}

/** The same summary as plain text, for the admins' email. */
export function forensicSummaryText(input: ForensicSummaryInput): string {
  const { result } = input;
  const h = result.highlights;
  const lines = [
    `Forensics on ${result.host} (${input.address}), request ${input.requestId}`,
    `Collected ${new Date(result.startedAt).toISOString()} in ${(result.durationMs / 1000).toFixed(1)} s`,
    '',
    `Suspicious processes (${h.suspiciousProcesses.length}):`,
    ...(h.suspiciousProcesses.length === 0
      ? ['  none']
      : h.suspiciousProcesses.map((p) => `  pid ${p.pid} ${p.exe}: ${p.why} (${p.cmdline})`)),
    '',
    `Listening (${h.listeners.length}):`,
    ...h.listeners.map((l) => `  ${l}`),
    '',
    `Sessions now (${h.sessions.length}):`,
    ...h.sessions.map((s) => `  ${s.trim()}`),
    '',
    `Problems (${h.failures.length}):`,
    ...h.failures.map((f) => `  ${f.name}: ${f.note ?? f.status}`),
    '',
    'Artifacts:',
    ...result.artifacts.map(
      (a) =>
        `  ${a.name}: ${a.status}, exit ${a.exitCode ?? '-'}, ${a.bytes} bytes${a.truncated ? ' (truncated)' : ''}, sha256 ${a.sha256}`,
    ),
    '',
    `Evidence bundle: ${input.bundleName}, sha256 ${input.bundleSha256}`,
    `Kept on the ward server in ${input.evidenceDir}`,
  ];
  return `${lines.join('\n')}\n`;
}
