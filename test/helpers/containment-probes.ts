/**
 * What the containment lab tests look at, from outside ward: commands run inside a lab host's namespaces, the audit
 * log read back from Redis, the drift metric, and the channel's messages since a mark.
 */
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { readAuditEvents } from '../../src/audit/chain.js';
import type { FakeMessage } from '../../src/fake-slack/fake-slack.js';
import type { AuditRecord } from '../../src/ports/audit.js';
import { CHANNEL, type Harness, messageText, waitUntil } from './remediation-harness.js';

export function containmentProbes(harness: () => Harness, oneIntervalMs: number) {
  const messagesSince = (n: number): FakeMessage[] => harness().slack.messages(CHANNEL).slice(n);
  return {
    onHost: (host: string, argv: string[]) => harness().lab.execOnHost(host, argv, { timeoutMs: 15_000 }),
    async audit(): Promise<AuditRecord[]> {
      const store = new RedisStore(harness().redis.url);
      await store.connect();
      try {
        return await readAuditEvents(store);
      } finally {
        await store.close();
      }
    },
    metrics: async (): Promise<string> => (await fetch(`${harness().ward.url}/metrics`)).text(),
    /** `ward_containment_drift_total{kind}` in a /metrics text (0 when absent). */
    driftMetric: (text: string, kind: string): number =>
      Number(
        new RegExp(`^ward_containment_drift_total\\{[^}]*kind="${kind}"[^}]*\\} (\\d+)`, 'm').exec(
          text,
        )?.[1] ?? 0,
      ),
    messagesSince,
    /** The first channel message (top level or in a thread) after mark `since` whose whole text matches. */
    waitForNew: (since: number, pred: (t: string) => boolean, timeoutMs = oneIntervalMs) =>
      waitUntil(() => messagesSince(since).find((m) => pred(messageText(m))), 'a Slack message', timeoutMs),
  };
}
