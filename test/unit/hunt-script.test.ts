import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HuntBounds, huntOnSession, huntPlanCommand } from '../../src/actions/hunt.js';
import type { Indicator } from '../../src/actions/hunt-indicators.js';
import { parseIndicators } from '../../src/actions/hunt-indicators.js';
import { approvedFor } from '../../src/actions/remote-command.js';
import { LocalShell } from '../../src/adapters/local/local-shell.js';
import { LOCAL_HOST_KEY } from '../../src/config/inventory.js';
import type { ShellSession } from '../../src/ports/remote-shell.js';

/** A hunt whose plan showed exactly this hunt on this host: what runs is checked against it. */
function hunt(s: ShellSession, indicators: Indicator[], bounds: HuntBounds, timeoutMs: number) {
  const approved = approvedFor(s.host.name, huntPlanCommand(indicators, bounds));
  return huntOnSession(s, approved, indicators, bounds, timeoutMs);
}

// The real hunt script, run by a local shell on this machine against a private temp directory (read-only).
describe('the hunt script on a real shell', () => {
  let dir: string;
  const content = 'ward hunt test implant\n';
  const hash = createHash('sha256').update(content).digest('hex');
  const session = () =>
    new LocalShell().connect({
      name: 'local',
      address: '127.0.0.1',
      port: 22,
      user: 'root',
      keyPath: '/dev/null',
      hostKey: LOCAL_HOST_KEY,
      transport: 'local',
    });
  const bounds = (over: Partial<{ maxFileBytes: number; maxFiles: number; scanTimeoutMs: number }> = {}) => ({
    paths: [dir],
    maxFileBytes: 1024 * 1024,
    maxFiles: 1000,
    scanTimeoutMs: 20_000,
    ...over,
  });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ward-hunt-'));
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(dir, 'a', 'b', 'kworker-upd'), content);
    writeFileSync(join(dir, 'other'), 'something else\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds a file by its sha256 and reports its path; another hash is clean', async () => {
    const s = await session();
    const r = await hunt(
      s,
      parseIndicators([`sha256:${hash}`, `sha256:${'0'.repeat(64)}`]),
      bounds(),
      20_000,
    );
    expect(r.outcome).toBe('hit');
    expect(r.findings[0]).toMatchObject({ outcome: 'hit', matches: [join(dir, 'a', 'b', 'kworker-upd')] });
    expect(r.findings[0]!.note).toMatch(/^2 file\(s\) hashed$/);
    expect(r.findings[1]).toMatchObject({ outcome: 'clean', matches: [] });
  });

  it('is partial, not clean, when a file is over the size cap or the file cap is reached', async () => {
    const s = await session();
    const big = await hunt(
      s,
      parseIndicators([`sha256:${'1'.repeat(64)}`]),
      bounds({ maxFileBytes: 10 }),
      20_000,
    );
    expect(big.outcome).toBe('partial');
    expect(big.reason).toMatch(/2 file\(s\) over the size limit/);
    const many = await hunt(
      s,
      parseIndicators([`sha256:${'1'.repeat(64)}`]),
      bounds({ maxFiles: 1 }),
      20_000,
    );
    expect(many.outcome).toBe('partial');
    expect(many.reason).toMatch(/file count limit/);
  });

  it('reads file:, process:, port:, user: and package: answers', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const s = await session();
      const r = await hunt(
        s,
        parseIndicators([
          `file:${join(dir, 'a', 'b', 'kworker-upd')}`,
          `file:${join(dir, 'absent')}`,
          'process:sleep',
          'process:no-such-proc',
          'user:root',
          'user:nosuchuser',
          'package:coreutils',
          'package:coreutils<1.0',
          'package:no-such-package-x',
        ]),
        bounds(),
        20_000,
      );
      const by = Object.fromEntries(r.findings.map((f) => [f.indicator, f]));
      expect(by[`file:${join(dir, 'a', 'b', 'kworker-upd')}`]).toMatchObject({ outcome: 'hit' });
      expect(by[`file:${join(dir, 'a', 'b', 'kworker-upd')}`]!.matches[0]).toContain(`sha256 ${hash}`);
      expect(by[`file:${join(dir, 'absent')}`]).toMatchObject({ outcome: 'clean' });
      expect(by['process:sleep']!.outcome).toBe('hit');
      expect(by['process:sleep']!.matches.join('\n')).toContain(`pid ${sleeper.pid} `);
      expect(by['process:no-such-proc']!.outcome).toBe('clean');
      expect(by['user:root']!.outcome).toBe('hit');
      expect(by['user:nosuchuser']!.outcome).toBe('clean');
      expect(by['package:coreutils']!.outcome).toBe('hit');
      expect(by['package:coreutils']!.matches[0]).toMatch(/^coreutils \S+ installed \(dpkg\)$/);
      expect(by['package:coreutils<1.0']!.outcome).toBe('clean');
      expect(by['package:no-such-package-x']!.outcome).toBe('clean');
    } finally {
      sleeper.kill();
    }
  });
});
