import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clockTime } from '../../src/render/time.js';
import { type Harness, messageText, startHarness, waitUntil } from '../helpers/remediation-harness.js';
import { describeLab } from '../lab/lab.js';

const connectionsIn = (log: string): number =>
  (readFileSync(log, 'utf8').match(/Connection from/g) ?? []).length;

describeLab('remediation safety against real hosts', () => {
  describe('refusals: injection, wrong host key, unreachable host, busy host', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startHarness({
        hosts: 3,
        // The busy-host case waits this long for the holder before giving up.
        env: { WARD_HOST_LOCK_WAIT_SECONDS: '2' },
        inventory: (yaml, lab) =>
          yaml
            // web1's pinned key is web2's: a stand-in for a man-in-the-middle or a rebuilt host.
            .replace(
              JSON.stringify(lab.hosts[0]!.hostKeyFingerprint),
              JSON.stringify(lab.hosts[1]!.hostKeyFingerprint),
            )
            // web3 points at a lab address where nothing answers.
            .replace(JSON.stringify(lab.hosts[2]!.address), JSON.stringify('198.51.100.99')),
      });
    }, 60_000);

    afterAll(async () => {
      await h?.stop();
    }, 30_000);

    it('refuses injection attempts in every argument before connecting to anything', async () => {
      const before = h.lab.hosts.map((x) => connectionsIn(x.sshdLog));
      // Other tests in this file may have posted already (the order is shuffled): count only new messages.
      const postedBefore = h.slack.messages().filter((m) => m.ephemeralFor === undefined).length;
      const attempts: Array<[string, RegExp]> = [
        ['forensics web2;id', /`target`: must be a host name/],
        ['forensics tag:web$(id)', /`target`: must be a host name/],
        ['lockdown web2`reboot` --reason x', /`host`: must be a host name/],
        ["release 'web2 && id' --reason x", /`host`: must be a host name/],
        ['block-ip web2 1.2.3.4;reboot', /`address`: must be an IPv4\/IPv6 address/],
        ['block-ip web2 "1.2.3.4 -j ACCEPT"', /`address`: must be an IPv4\/IPv6 address/],
        ['block-ip web2 $(curl)', /`address`: must be an IPv4\/IPv6 address/],
        ['kill-process web2 1;id --reason x', /`pid`: must be a process id/],
        ['kill-process web2 "12 13" --reason x', /`pid`: must be a process id/],
        ['kill-process web2 -1 --reason x', /`pid`|Unknown option/],
        ['disable-user web2 bob;id --reason x', /`user`: must be a Unix user name/],
        ['disable-user web2 "$(id)" --reason x', /`user`: must be a Unix user name/],
        ['disable-user web2 ../../etc --reason x', /`user`: must be a Unix user name/],
      ];
      for (const [text, expected] of attempts) {
        const { responseUrl } = await h.slash(text);
        const reply = await h.waitForEphemeral(responseUrl, () => true);
        expect(reply, text).toMatch(expected);
      }
      // Nothing reached any sshd (its VERBOSE log has a "Connection from" line per connection).
      expect(h.lab.hosts.map((x) => connectionsIn(x.sshdLog))).toEqual(before);
      expect(
        h.slack
          .messages()
          .filter((m) => m.ephemeralFor === undefined)
          .slice(postedBefore),
      ).toEqual([]);
    }, 60_000);

    it('refuses a host whose key differs from the pinned one and posts a security warning in the channel', async () => {
      await h.slash('forensics web1');
      const warning = await h.waitForMessage((m) => messageText(m).includes('host key mismatch on web1'));
      expect(warning.thread_ts).toBeUndefined();
      expect(messageText(warning)).toContain(h.lab.hosts[0]!.hostKeyFingerprint); // presented
      expect(messageText(warning)).toContain(h.lab.hosts[1]!.hostKeyFingerprint); // pinned
      const report = await h.waitForMessage((m) => m.text?.includes('forensics: ✗ web1') === true);
      expect(report.text).toContain('refused to connect to web1');
      // Nothing was collected: no forensic summary, no upload.
      expect(h.slack.messages().some((m) => messageText(m).includes('Forensics on web1'))).toBe(false);
      expect(h.slack.files()).toEqual([]);
    }, 60_000);

    it('says clearly that an unreachable host could not be reached, within the connect timeout', async () => {
      await h.slash('forensics web3');
      const report = await h.waitForMessage((m) => m.text?.includes('forensics: ✗ web3') === true, 30_000);
      expect(report.text).toMatch(/could not connect to web3 \(198\.51\.100\.99:22\)/);
    }, 60_000);

    it('refuses a host another remediation holds after waiting for it, naming the request', async () => {
      const redis = new Redis(h.redis.url);
      try {
        const since = Date.now();
        await redis.set(
          'ward:lock:host:web2',
          JSON.stringify({ token: 'other', requestId: 'r-othr01', command: 'lockdown', since }),
          'PX',
          60_000,
        );
        const before = connectionsIn(h.lab.hosts[1]!.sshdLog);
        await h.slash('forensics web2');
        const report = await h.waitForMessage((m) => m.text?.includes('forensics: ✗ web2') === true);
        expect(report.text).toContain(
          `web2 is busy with request r-othr01 (lockdown) since ${clockTime(since)}. ward waited 2 s for it (WARD_HOST_LOCK_WAIT_SECONDS).`,
        );
        expect(connectionsIn(h.lab.hosts[1]!.sshdLog)).toBe(before);
        // The other holder's lock is left alone.
        expect(JSON.parse((await redis.get('ward:lock:host:web2')) ?? '{}').token).toBe('other');
      } finally {
        await redis.del('ward:lock:host:web2');
        redis.disconnect();
      }
    }, 60_000);
  });

  describe('a lockdown whose verification fails', () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startHarness({
        hosts: 1,
        env: { WARD_LOCKDOWN_CONFIRM_SECONDS: '5' },
        // A management CIDR that does not include ward's address (198.51.100.1): the reconnect must fail.
        inventory: (yaml) => yaml.replace('"198.51.100.1/32"', '"198.51.100.200/32"'),
      });
    }, 60_000);

    afterAll(async () => {
      await h?.stop();
    }, 30_000);

    it('reverts by itself and ward says so', async () => {
      const web1 = h.lab.hosts[0]!;
      await h.slash('lockdown web1 --reason "test revert"');
      const notConfirmed = await h.waitForMessage(
        (m) => m.text?.includes('Lockdown of *web1* NOT confirmed') === true,
      );
      expect(notConfirmed.text).toContain("removes ward's table by itself within 5 s");
      const reverted = await h.waitForMessage(
        (m) => m.text?.includes('web1 reverted by itself') === true,
        60_000,
      );
      expect(reverted.thread_ts).toBe(notConfirmed.thread_ts);
      await waitUntil(
        async () => (await h.lab.canConnect(h.lab.attacker.ns, web1.address, 8080)) || undefined,
        'web1 reachable again',
        30_000,
      );
      const table = await h.lab.execOnHost('web1', ['nft', 'list', 'table', 'inet', 'ward_lockdown']);
      expect(table.code).not.toBe(0);
      const report = await h.waitForMessage((m) => m.text?.includes('lockdown: ✗ web1') === true);
      expect(report.text).toContain('lockdown not confirmed');
      // Not recorded as locked down.
      const hosts = await h.slash('hosts');
      expect(await h.waitForEphemeral(hosts.responseUrl, (t) => t.includes('web1'))).toContain(
        'web1 (normal)',
      );
    }, 90_000);
  });
});
