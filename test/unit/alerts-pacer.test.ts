import { describe, expect, it } from 'vitest';
import { ChannelPacer } from '../../src/alerts/pacer.js';

/** A clock that only moves when the pacer sleeps: every wait is recorded, none is real. */
function fakeTime() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    clock: { now: () => now },
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function rateLimited(retryAfter: number): Error {
  return Object.assign(new Error('rate limited'), { code: 'slack_webapi_rate_limited_error', retryAfter });
}

describe('ChannelPacer', () => {
  it('spaces calls on one channel by the minimum interval, in order', async () => {
    const t = fakeTime();
    const pacer = new ChannelPacer({ clock: t.clock, sleep: t.sleep, minIntervalMs: 1100 });
    const calledAt: Array<[string, number]> = [];
    const calls = ['a', 'b', 'c'].map((id) =>
      pacer.run('C1', async () => {
        calledAt.push([id, t.clock.now()]);
        return id;
      }),
    );
    expect(await Promise.all(calls)).toEqual(['a', 'b', 'c']);
    expect(calledAt).toEqual([
      ['a', 1_000_000],
      ['b', 1_001_100],
      ['c', 1_002_200],
    ]);
  });

  it('does not make one channel wait for another', async () => {
    const t = fakeTime();
    const pacer = new ChannelPacer({ clock: t.clock, sleep: t.sleep, minIntervalMs: 1100 });
    await pacer.run('C1', async () => 1);
    await pacer.run('C2', async () => 2);
    expect(t.sleeps).toEqual([]);
  });

  it('waits only for what is left of the interval', async () => {
    const t = fakeTime();
    const pacer = new ChannelPacer({ clock: t.clock, sleep: t.sleep, minIntervalMs: 1100 });
    await pacer.run('C1', async () => 1);
    t.advance(800);
    await pacer.run('C1', async () => 2);
    expect(t.sleeps).toEqual([300]);
  });

  it('honours Retry-After on a 429 and retries the same call, losing nothing', async () => {
    const t = fakeTime();
    const pacer = new ChannelPacer({ clock: t.clock, sleep: t.sleep, minIntervalMs: 1100 });
    let attempts = 0;
    const result = await pacer.run('C1', async () => {
      attempts++;
      if (attempts === 1) throw rateLimited(30);
      return 'posted';
    });
    expect(result).toBe('posted');
    expect(attempts).toBe(2);
    expect(t.sleeps).toEqual([30_000]);
    // The next call on that channel still keeps the normal spacing after the retry.
    await pacer.run('C1', async () => 'next');
    expect(t.sleeps).toEqual([30_000, 1100]);
  });

  it('passes other errors through, and the channel keeps working', async () => {
    const t = fakeTime();
    const pacer = new ChannelPacer({ clock: t.clock, sleep: t.sleep, minIntervalMs: 1100 });
    await expect(
      pacer.run('C1', async () => {
        throw new Error('channel_not_found');
      }),
    ).rejects.toThrow('channel_not_found');
    await expect(pacer.run('C1', async () => 'ok')).resolves.toBe('ok');
  });

  it('gives up after the configured number of consecutive 429s', async () => {
    const t = fakeTime();
    const pacer = new ChannelPacer({
      clock: t.clock,
      sleep: t.sleep,
      minIntervalMs: 10,
      maxRateLimitRetries: 2,
    });
    let attempts = 0;
    await expect(
      pacer.run('C1', async () => {
        attempts++;
        throw rateLimited(1);
      }),
    ).rejects.toThrow('rate limited');
    expect(attempts).toBe(3);
  });
});
