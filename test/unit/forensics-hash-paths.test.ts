import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORENSIC_SECTIONS } from '../../src/actions/forensics.js';

describe('forensics: hashes of the configured paths', () => {
  it('hashes regular files and says which paths are absent and which are not regular files', () => {
    const code = FORENSIC_SECTIONS.find((s) => s.name === 'path-sha256')!.alternatives[0]!.code;
    const dir = mkdtempSync(join(tmpdir(), 'ward-hash-'));
    writeFileSync(join(dir, 'tool'), 'hello\n');
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    const paths = [join(dir, 'tool'), join(dir, 'pipe'), dir, join(dir, 'gone')].join('\n');
    // The section's fixed code, run by sh exactly as on a host, with the paths in $WARD_PATHS.
    const out = execFileSync('sh', ['-c', code], {
      env: { PATH: '/usr/bin:/bin', WARD_PATHS: paths },
      timeout: 5000,
    })
      .toString()
      .trim()
      .split('\n');
    expect(out).toEqual([
      `5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  ${join(dir, 'tool')}`,
      `not-a-regular-file  ${join(dir, 'pipe')}`,
      `not-a-regular-file  ${dir}`,
      `absent  ${join(dir, 'gone')}`,
    ]);
  });
});
