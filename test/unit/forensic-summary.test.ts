import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/actions/collect-script.js';
import { analyseArtifacts, type ForensicsResult } from '../../src/actions/forensics.js';
import { forensicSummaryText, renderForensicSummary } from '../../src/render/forensics.js';
import { redactSecrets } from '../../src/render/redact-secrets.js';

/** Golden files, as in approval-render.test.ts: UPDATE_GOLDEN=1 rewrites them; review every diff. */
function golden(name: string, value: unknown): void {
  const path = new URL(`./golden/${name}.json`, import.meta.url);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(path, text);
  if (!existsSync(path))
    throw new Error(`missing golden file ${name}.json: run with UPDATE_GOLDEN=1 and review it`);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

function artifact(name: string, content: string, status: Artifact['status'] = 'ok', note?: string): Artifact {
  const buf = Buffer.from(content);
  return {
    name,
    command: name,
    status,
    exitCode: status === 'ok' ? 0 : 1,
    durationMs: 10,
    bytes: buf.length,
    sha256: createHash('sha256').update(buf).digest('hex'),
    truncated: false,
    content: buf,
    ...(note ? { note } : {}),
  };
}

// Recorded-style process-executables: the collecting shell (900) with its readlink/tr children, an implant with a
// deleted executable that was started with secrets on its command line, a helper in /tmp, and ordinary daemons.
const PROCESSES = [
  'self\t900',
  '1\t/usr/lib/systemd/systemd\tppid=0\t/sbin/init',
  '640\t/usr/sbin/sshd\tppid=1\tsshd: /usr/sbin/sshd -D',
  '880\t/usr/sbin/sshd\tppid=640\tsshd: ward@notty',
  '900\t/usr/bin/dash\tppid=880\tsh -s',
  '901\t/tmp/ward-collect-helper\tppid=900\t/tmp/ward-collect-helper',
  '902\t/usr/bin/tr\tppid=900\ttr \\000  ',
  '4242\t/tmp/kworker-upd (deleted)\tppid=1\t/tmp/kworker-upd --env {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG", "HOME": "/root"} --password hunter2',
  '4300\t/dev/shm/.x/miner\tppid=1\tminer -o pool:3333 API_TOKEN=abc123 -H Authorization: Bearer eyJhbGciOi AKIAIOSFODNN7EXAMPLE',
].join('\n');

const T = 1_760_000_100_000;
function result(artifacts: Artifact[]): ForensicsResult {
  return {
    host: 'web1',
    startedAt: T,
    durationMs: 3_240,
    artifacts,
    highlights: analyseArtifacts(artifacts),
    timedOut: false,
  };
}

const input = (r: ForensicsResult) => ({
  result: r,
  address: '198.51.100.11',
  requestId: 'r-7f3a9c',
  bundleName: 'forensics-web1-r-7f3a9c.tar.gz',
  bundleSha256: 'f'.repeat(64),
  evidenceDir: '/var/lib/ward/evidence/r-7f3a9c/web1',
});

const compromised = result([
  artifact('system', 'Linux web1 6.1.0'),
  artifact('logged-in-users', ' 08:55:00 up 3 days\nUSER TTY FROM LOGIN@\nalice pts/0 203.0.113.9 08:40\n'),
  artifact('process-executables', PROCESSES),
  artifact(
    'listening-sockets',
    'tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=640,fd=3))\ntcp LISTEN 0 128 0.0.0.0:4444 0.0.0.0:* users:(("kworker-upd",pid=4242,fd=5))\n',
  ),
  artifact('kernel-modules', '', 'missing', 'none of lsmod, /proc/modules found'),
]);

describe('forensic summary', () => {
  it('renders a compromised host: one header line, findings by severity, then what was not collected', () =>
    golden('forensic-summary-compromised', renderForensicSummary(input(compromised))));

  it('renders a clean host with no finding but the collection itself', () => {
    const clean = result([
      artifact('process-executables', PROCESSES.split('\n').slice(0, 7).join('\n')),
      artifact('logged-in-users', ''),
    ]);
    const message = renderForensicSummary(input(clean));
    golden('forensic-summary-clean', message);
    expect(JSON.stringify(message)).toContain('No suspicious process');
    expect(clean.highlights.suspiciousProcesses).toEqual([]);
  });

  it("never reports the collection's own processes, ranks a deleted executable above /tmp", () => {
    const pids = compromised.highlights.suspiciousProcesses.map((p) => [p.pid, p.severity]);
    expect(pids).toEqual([
      ['4242', 'critical'],
      ['4300', 'high'],
    ]);
    expect(compromised.highlights.ownProcesses).toBe(1);
  });

  it("leaves ward's own chain out on a local host, but not the SSH session's ancestors", () => {
    const lines = [
      'self\t900',
      '500\t/tmp/node (deleted)\tppid=1\tnode ward',
      '900\t/bin/sh\tppid=500\tsh -s',
    ];
    const a = [artifact('process-executables', lines.join('\n'))];
    expect(analyseArtifacts(a, ['500']).suspiciousProcesses).toEqual([]);
    // Without ward's pid (an SSH host), a deleted executable above the session is a finding: a trojaned sshd.
    expect(analyseArtifacts(a).suspiciousProcesses.map((p) => p.pid)).toEqual(['500']);
  });

  it('the sha256 of the bundle appears once', () => {
    const text = JSON.stringify(renderForensicSummary(input(compromised)));
    expect(text.split('f'.repeat(64)).length - 1).toBe(1);
  });

  it('redacts secrets from what is posted and emailed; the analysis keeps the raw command line', () => {
    for (const text of [
      JSON.stringify(renderForensicSummary(input(compromised))),
      forensicSummaryText(input(compromised)),
    ]) {
      for (const secret of ['wJalrXUtnFEMI', 'hunter2', 'abc123', 'eyJhbGciOi', 'IOSFODNN7EXAMPLE', '/root'])
        expect(text).not.toContain(secret);
    }
    expect(compromised.highlights.suspiciousProcesses[0]!.cmdline).toContain('hunter2');
  });

  it('redaction patterns: *_KEY=, *_TOKEN=, --password, AKIA…, Authorization:', () => {
    expect(redactSecrets('DB_PASSWORD=x API_KEY="a b" GITHUB_TOKEN=ghp_1 PATH=/bin')).toBe(
      'DB_PASSWORD=[redacted] API_KEY=[redacted] GITHUB_TOKEN=[redacted] PATH=/bin',
    );
    expect(redactSecrets('mysql --password=s3cret -u root --token abc')).toBe(
      'mysql --password=[redacted] -u root --token [redacted]',
    );
    expect(redactSecrets("curl -H 'Authorization: Bearer xyz' https://x")).toBe(
      "curl -H 'Authorization: [redacted]' https://x",
    );
    expect(redactSecrets('key AKIAIOSFODNN7EXAMPLE used')).toBe('key AKIA[redacted] used');
    expect(redactSecrets('x --env {"A": "1", "B": {"c": 2}} --port 1')).toBe(
      'x --env {[redacted] environment} --port 1',
    );
    // Cut at 300 characters, the blob may never close.
    expect(redactSecrets('x --env {"AWS_CA_BUNDLE": "/etc/ssl/ce')).toBe('x --env {[redacted] environment}');
  });
});
