import type { ForensicsResult } from '../actions/forensics.js';
import type { ChatMessage } from '../ports/chat.js';
import { code, context, esc, section } from './blocks.js';
import { redactSecrets } from './redact-secrets.js';
import { clockTime, dateTime } from './time.js';
import { userText } from './user-text.js';

export interface ForensicSummaryInput {
  result: ForensicsResult;
  address: string;
  requestId: string;
  bundleName: string;
  bundleSha256: string;
  evidenceDir: string;
}

const MAX_FINDINGS = 8;
const MAX_INLINE = 5;

const SEVERITY_ICON = { critical: '🚨', high: '⚠️', info: 'ℹ️' } as const;

/** One finding: how bad, what, and the one-line reason it is listed. */
export interface Finding {
  severity: keyof typeof SEVERITY_ICON;
  what: string;
  why: string;
}

/**
 * Findings, most severe first: suspicious processes (command lines with secrets redacted), then who is logged in
 * and what listens, which a responder wants in view but which are not by themselves signs of compromise.
 */
export function forensicFindings(input: ForensicSummaryInput): Finding[] {
  const h = input.result.highlights;
  const findings: Finding[] = h.suspiciousProcesses.map((p) => ({
    severity: p.severity,
    what: `pid ${code(p.pid)} ${userText(p.exe, 120)}${p.cmdline ? ` ${userText(redactSecrets(p.cmdline), 100)}` : ''}`,
    why: esc(p.why),
  }));
  if (h.sessions.length > 0) {
    findings.push({
      severity: 'info',
      what: `${h.sessions.length} session${h.sessions.length === 1 ? '' : 's'} now: ${inline(h.sessions.map((x) => x.trim().split(/\s+/).slice(0, 3).join(' ')))}`,
      why: 'who is logged in while you respond',
    });
  }
  if (h.listeners.length > 0) {
    findings.push({
      severity: 'info',
      what: `${h.listeners.length} listening socket${h.listeners.length === 1 ? '' : 's'}: ${inline(h.listeners)}`,
      why: 'what the host accepts connections on',
    });
  }
  return findings;
}

function inline(items: readonly string[]): string {
  const shown = items.slice(0, MAX_INLINE).map((i) => userText(redactSecrets(i), 80));
  return `${shown.join(', ')}${items.length > MAX_INLINE ? ` and ${items.length - MAX_INLINE} more` : ''}`;
}

/**
 * The forensic summary a responder reads in 20 seconds: one line saying where, when, how much and which bundle
 * (its sha256 once, here and nowhere else in the thread); the findings, most severe first, each with its reason;
 * then what could not be collected. The collection's own processes are never findings; command lines are shown
 * with secrets redacted (the bundle, uploaded next, keeps them as collected).
 */
export function renderForensicSummary(input: ForensicSummaryInput): ChatMessage {
  const { result, address } = input;
  const h = result.highlights;
  const total = result.artifacts.length;
  const ok = result.artifacts.filter((a) => a.status === 'ok').length;
  const truncated = result.artifacts.filter((a) => a.truncated).length;
  const findings = forensicFindings(input);
  const alarming = h.suspiciousProcesses.length;
  const flag = alarming > 0 ? '🚨' : '🔍';
  const headLine = `${flag} *Forensics on ${esc(result.host)}* (${code(address)}) · ${clockTime(result.startedAt)} · collected ${ok} of ${total} artifacts in ${(result.durationMs / 1000).toFixed(1)} s${truncated > 0 ? ` (${truncated} truncated)` : ''} · bundle sha256 ${code(input.bundleSha256)}`;
  const lines = findings
    .slice(0, MAX_FINDINGS)
    .map((f) => `${SEVERITY_ICON[f.severity]} *${f.severity}* ${f.what}: ${f.why}`);
  if (findings.length > MAX_FINDINGS)
    lines.push(`… and ${findings.length - MAX_FINDINGS} more in the bundle's process-executables`);
  if (alarming === 0) {
    lines.unshift(
      `✅ No suspicious process: none runs a deleted executable or from /tmp, /var/tmp, /dev/shm${h.ownProcesses > 0 ? ` (the collection's own ${h.ownProcesses} process${h.ownProcesses === 1 ? '' : 'es'} left out)` : ''}.`,
    );
  }
  const blocks = [
    section(headLine),
    section(`*Findings* (most severe first)\n${lines.join('\n')}`),
    ...(h.failures.length > 0
      ? [
          section(
            `*Not collected (${h.failures.length})*\n${h.failures
              .slice(0, MAX_FINDINGS)
              .map((f) => `❌ ${esc(f.name)}: ${esc(f.note ?? f.status)}`)
              .join(
                '\n',
              )}${h.failures.length > MAX_FINDINGS ? `\n… and ${h.failures.length - MAX_FINDINGS} more` : ''}`,
          ),
        ]
      : []),
    context(
      `Request ${code(input.requestId)} · ${code(input.bundleName)} is kept in ${code(input.evidenceDir)}, with manifest.json (every artifact's command, exit code, size, sha256); command lines above are shown with secrets redacted, the bundle has them as collected.`,
    ),
  ];
  const text = `${flag} Forensics on ${result.host}: ${ok}/${total} artifacts, ${alarming} suspicious process(es), ${h.failures.length} not collected.`;
  return { text, blocks };
}

/** The same summary as plain text, for the admins' email. */
export function forensicSummaryText(input: ForensicSummaryInput): string {
  const { result } = input;
  const h = result.highlights;
  const lines = [
    `Forensics on ${result.host} (${input.address}), request ${input.requestId}`,
    `Collected ${dateTime(result.startedAt)} in ${(result.durationMs / 1000).toFixed(1)} s`,
    '',
    `Suspicious processes (${h.suspiciousProcesses.length}):`,
    ...(h.suspiciousProcesses.length === 0
      ? ['  none']
      : h.suspiciousProcesses.map(
          (p) => `  ${p.severity}: pid ${p.pid} ${p.exe}: ${p.why} (${redactSecrets(p.cmdline)})`,
        )),
    '',
    `Listening (${h.listeners.length}):`,
    ...h.listeners.map((l) => `  ${redactSecrets(l)}`),
    '',
    `Sessions now (${h.sessions.length}):`,
    ...h.sessions.map((s) => `  ${s.trim()}`),
    '',
    `Not collected (${h.failures.length}):`,
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
