import { describe, expect, it } from 'vitest';
import { acquireHostLock, describeHolders, HostBusyError, hostLockKey } from '../../src/actions/host-lock.js';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup() {
  let now = Date.parse('2025-01-01T12:00:00Z');
  const clock = { now: () => now };
  const store = new MemoryStore(clock);
  const lock = (requestId: string, command: string, access: 'read' | 'change', waitMs = 0, ttlMs = 60_000) =>
    acquireHostLock(store, clock, 'web1', { requestId, command, access, ttlMs, waitMs });
  return { store, clock, lock, advance: (ms: number) => (now += ms) };
}

describe('the per-host lock', () => {
  it('lets read-only collections share a host', async () => {
    const { lock } = setup();
    const a = await lock('r-read1', 'forensics', 'read');
    const b = await lock('r-read2', 'forensics', 'read');
    await Promise.all([a.release(), b.release()]);
  });

  it('makes a change wait for a collection to finish, then run, saying once that it waits', async () => {
    const { lock, store, clock } = setup();
    const read = await lock('r-read1', 'forensics', 'read');
    setTimeout(() => void read.release(), 400);
    const told: string[] = [];
    const started = Date.now();
    const change = await acquireHostLock(store, clock, 'web1', {
      requestId: 'r-kill1',
      command: 'kill-process',
      access: 'change',
      ttlMs: 60_000,
      waitMs: 5_000,
      onWait: (holders) => void told.push(describeHolders('web1', holders)),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(change.holder.requestId).toBe('r-kill1');
    expect(told).toEqual(['web1 is busy with request r-read1 (forensics, read-only) since 12:00 UTC']);
    await change.release();
  });

  it('keeps collections that start while a change waits from starving it', async () => {
    const { lock, store } = setup();
    // Overlapping reads keep arriving (an alert storm auto-running forensics): each lasts 300 ms.
    const first = await lock('r-read0', 'forensics', 'read');
    setTimeout(() => void first.release(), 300);
    let stop = false;
    const refused: string[] = [];
    const storm = (async () => {
      for (let i = 1; !stop; i++) {
        try {
          const r = await lock(`r-read${i}`, 'forensics', 'read');
          setTimeout(() => void r.release(), 300);
        } catch (err) {
          refused.push((err as HostBusyError).userMessage);
        }
        await sleep(100);
      }
    })();
    const change = await lock('r-kill1', 'kill-process', 'change', 3_000).finally(() => {
      stop = true;
    });
    await storm;
    // The change got the host, and the reads that came while it waited were told why they could not start.
    expect((await store.leaseHolders(hostLockKey('web1'))).exclusive).toContain('r-kill1');
    expect(refused.some((m) => m.includes('web1 is reserved for request r-kill1 (kill-process'))).toBe(true);
    await change.release();
  });

  it('gives up on a host another change holds after the wait, naming who holds it', async () => {
    const { lock, store } = setup();
    const first = await lock('r-lock1', 'lockdown', 'change');
    const started = Date.now();
    const err = await lock('r-kill1', 'kill-process', 'change', 1_200).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_200);
    expect(err).toBeInstanceOf(HostBusyError);
    expect((err as HostBusyError).userMessage).toBe(
      'web1 is busy with request r-lock1 (lockdown) since 12:00 UTC. ward waited 1 s for it (WARD_HOST_LOCK_WAIT_SECONDS). Nothing was run on web1; try again when it has finished.',
    );
    // The change that gave up keeps nothing out: once the holder is done, a read gets in at once.
    await first.release();
    expect((await store.leaseHolders(hostLockKey('web1'))).waiting).toBeNull();
    await (await lock('r-read1', 'forensics', 'read')).release();
  });

  it('frees a host whose holder died when its lease ends', async () => {
    const { lock, advance } = setup();
    await lock('r-dead1', 'lockdown', 'change', 0, 10_000); // never released: its ward process died
    await expect(lock('r-kill1', 'kill-process', 'change')).rejects.toThrow(/busy with request r-dead1/);
    advance(10_001);
    await (await lock('r-kill1', 'kill-process', 'change')).release();
  });
});
