import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalShell } from '../../src/adapters/local/local-shell.js';
import type { HostTarget } from '../../src/ports/remote-shell.js';

const localhost: HostTarget = {
  name: 'localhost',
  address: '127.0.0.1',
  port: 22,
  user: 'root',
  keyPath: '',
  hostKey: 'local',
  transport: 'local',
};

describe('LocalShell (inventory transport: local)', () => {
  it('runs the argv as given, without a shell: metacharacters are plain text', async () => {
    const session = await new LocalShell().connect(localhost);
    const r = await session.exec(['echo', '$(id -u); rm -rf /tmp/nothing', '`whoami`']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('$(id -u); rm -rf /tmp/nothing `whoami`\n');
    await session.close();
  });

  it('passes stdin, reports the exit code and stderr', async () => {
    const session = await new LocalShell().connect(localhost);
    const r = await session.exec(['sh', '-c', 'cat; echo oops >&2; exit 3'], { stdin: 'hello\n' });
    expect(r).toMatchObject({ code: 3, truncated: false, timedOut: false });
    expect(r.stdout.toString()).toBe('hello\n');
    expect(r.stderr.toString()).toBe('oops\n');
  });

  it("does not hand ward's environment (its secrets) to the command", async () => {
    const session = await new LocalShell().connect(localhost);
    const r = await session.exec(['env']);
    const names = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.split('=')[0])
      .sort();
    expect(names).toEqual(['LC_ALL', 'PATH']);
  });

  it('answers a missing program like a shell would (127), instead of throwing', async () => {
    const session = await new LocalShell().connect(localhost);
    const r = await session.exec(['no-such-program-ward-test']);
    expect(r.code).toBe(127);
    expect(r.stderr.toString()).toMatch(/no-such-program-ward-test: command not found/);
  });

  it('keeps only maxOutputBytes of output and says it truncated', async () => {
    const session = await new LocalShell().connect(localhost);
    const r = await session.exec(['head', '-c', '100000', '/dev/zero'], { maxOutputBytes: 1000 });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(1000);
    expect(r.truncated).toBe(true);
  });

  it('kills a command that outlives its timeout, with its children', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ward-local-'));
    const pidFile = join(dir, 'child.pid');
    const session = await new LocalShell().connect(localhost);
    const r = await session.exec(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait; echo never`], {
      timeoutMs: 300,
    });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    expect(r.stdout.toString()).toBe('');
    const child = Number(readFileSync(pidFile, 'utf8'));
    // SIGKILL is delivered at once, but the reaping that makes the pid disappear is the kernel's and init's.
    for (let i = 0; i < 100 && alive(child); i++) await new Promise((res) => setTimeout(res, 50));
    expect(alive(child)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0; /proc says whether it is one.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
