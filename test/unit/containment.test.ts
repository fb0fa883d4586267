import { describe, expect, it } from 'vitest';
import { clearHostState, normalizeNft, writeHeld, writeHostState } from '../../src/actions/host-state.js';
import { lockdownPlanSteps } from '../../src/actions/lockdown.js';
import { persistedRuleset, persistPaths, unitFileText } from '../../src/actions/persist.js';
import { releasePlanSteps } from '../../src/actions/release.js';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { type QuarantineRecord, saveRecord } from '../../src/cloud/record.js';
import { type InventoryHost, inventorySchema, toInventory } from '../../src/config/inventory.js';
import { checkStateKey, recordCheck } from '../../src/containment/checker.js';
import type { Target } from '../../src/containment/checks.js';
import { parseReapply, reapplyText } from '../../src/containment/reapply.js';
import type { Services } from '../../src/core/services.js';

const web1: InventoryHost = {
  name: 'web1',
  address: '198.51.100.11',
  port: 22,
  user: 'root',
  keyPath: '/etc/ward/id_ed25519',
  hostKey: `SHA256:${'A'.repeat(43)}`,
  tags: [],
};

describe('boot-time persistence', () => {
  it("the unit loads ward's file before the network, and the plan shows every command with the inventory's paths", () => {
    const unit = unitFileText('/etc/ward/containment.nft');
    expect(unit).toContain('Before=network-pre.target');
    expect(unit).toContain('Wants=network-pre.target');
    expect(unit).toMatch(/^ExecStart=\/usr\/sbin\/nft -f \/etc\/ward\/containment\.nft$/m);
    const custom = { ...web1, persist: { unitDir: '/run/units', stateDir: '/run/ward' } };
    const step = lockdownPlanSteps(custom, ['198.51.100.1/32'], [], 60).find((s) => s.id === 'web1.persist')!;
    const commands = step.commands.join('\n');
    expect(commands).toContain('nft -c -f /run/ward/containment.nft.new');
    expect(commands).toContain('systemctl enable ward-containment.service');
    expect(commands).toContain(
      'ln -sfn /run/units/ward-containment.service /run/units/sysinit.target.wants/ward-containment.service',
    );
    expect(commands).toContain('rm -f /run/units/sysinit.target.wants/ward-containment.service');
    expect(releasePlanSteps(web1).map((s) => s.id)).toContain('web1.persist');
    expect(persistPaths(web1).rulesetFile).toBe('/etc/ward/containment.nft');
  });

  it('the persisted ruleset keeps SSH from management and holds every blocked address', () => {
    const text = persistedRuleset({
      lockdown: { managementCidrs: ['198.51.100.1/32'], sshPort: 2222 },
      blocked: ['203.0.113.0/24', '2001:db8::66', '198.51.100.66'],
    });
    expect(text).toContain('ip saddr 198.51.100.1/32 tcp dport 2222 ct state new accept');
    expect(text).toContain('elements = { 198.51.100.66, 203.0.113.0/24 };');
    expect(text).toContain('elements = { 2001:db8::66 };');
  });

  it('the persisted ruleset holds every port block-port closed, in its own table; none: no ports table', () => {
    const text = persistedRuleset({ blocked: [], ports: ['8080/tcp', '53/udp', '443/tcp'] });
    expect(text).toContain('table inet ward_ports');
    expect(text).toMatch(/set tcp_closed \{ type inet_service; elements = \{ 443, 8080 \}; \}/);
    expect(text).toMatch(/set udp_closed \{ type inet_service; elements = \{ 53 \}; \}/);
    expect(text).toContain('tcp dport @tcp_closed drop');
    expect(text).not.toContain('ward_lockdown');
    expect(persistedRuleset({ blocked: ['203.0.113.7'], ports: [] })).not.toContain('ward_ports');
  });

  it('the inventory takes persist paths per host and in defaults, and refuses odd ones', () => {
    const inv = toInventory(
      inventorySchema.parse({
        management: { cidrs: ['198.51.100.1/32'] },
        defaults: { persist: { stateDir: '/var/lib/ward' } },
        hosts: {
          web1: {
            address: '198.51.100.11',
            hostKey: web1.hostKey,
            persist: { unitDir: '/etc/systemd/system' },
          },
        },
      }),
    );
    expect(inv.hosts.get('web1')!.persist).toEqual({
      unitDir: '/etc/systemd/system',
      stateDir: '/var/lib/ward',
    });
    expect(() =>
      inventorySchema.parse({
        management: { cidrs: ['198.51.100.1/32'] },
        hosts: {
          web1: { address: '198.51.100.11', hostKey: web1.hostKey, persist: { stateDir: '/etc/ward;rm' } },
        },
      }),
    ).toThrow();
  });

  it('normalizes nft listings: indentation does not matter, a rule does', () => {
    expect(normalizeNft('table inet x {\n\tchain c {\n\t\taccept\n\t}\n}\n')).toBe(
      normalizeNft('table inet x {\n  chain c {\n    accept\n  }\n}'),
    );
    expect(normalizeNft('chain c {\n\taccept\n}')).not.toBe(normalizeNft('chain c {\n\taccept\n\tdrop\n}'));
  });
});

describe('drift reporting', () => {
  const posts: Array<{ channel: string; text: string; threadTs?: string | undefined }> = [];
  const audits: string[] = [];
  let now = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => now });
  const services = {
    store,
    clock: { now: () => now },
    config: { WARD_CONTAINMENT_UNVERIFIED_AFTER: 2 },
    log: { warn() {}, error() {}, info() {} },
    audit: { record: async (e: { type: string }) => void audits.push(e.type) },
    chat: {
      postMessage: async (channel: string, m: { text: string }, o: { threadTs?: string } = {}) => {
        posts.push({ channel, text: m.text, threadTs: o.threadTs });
        return { channel, ts: String(posts.length) };
      },
    },
  } as unknown as Services;
  const target: Target = {
    id: 'host:web1',
    name: 'web1',
    host: web1,
    items: [
      {
        key: 'lockdown',
        kind: 'lockdown',
        label: 'lockdown of web1',
        requestId: 'r-1',
        since: now,
        thread: { channel: 'C1', ts: '100.1' },
        reapply: { command: 'lockdown', host: 'web1' },
      },
    ],
  };
  const drift = { status: 'checked' as const, findings: [{ item: 'lockdown', differences: ['table gone'] }] };
  const ok = { status: 'checked' as const, findings: [{ item: 'lockdown', differences: [] }] };

  it('reports a drift once, in the thread and the channel, then its fix; unreachable is unverified after the threshold', async () => {
    await recordCheck(services, target, drift);
    await recordCheck(services, target, drift);
    const reports = posts.filter((p) => p.text.includes('Containment drift'));
    expect(reports.map((p) => p.threadTs)).toEqual(['100.1', undefined]);
    expect(audits).toEqual(['containment.drift']);
    posts.length = 0;
    await recordCheck(services, target, ok);
    expect(posts.filter((p) => p.text.includes('Containment restored on *web1*'))).toHaveLength(2);

    posts.length = 0;
    now += 1000;
    const down = { status: 'unverified' as const, reason: 'connection refused' };
    const first = await recordCheck(services, target, down);
    expect(first.state?.result).toBe('unverified');
    expect(posts).toHaveLength(0);
    await recordCheck(services, target, down);
    await recordCheck(services, target, down);
    expect(posts.filter((p) => p.text.includes('UNVERIFIED'))).toHaveLength(2);
    const state = JSON.parse((await store.get(checkStateKey('host:web1')))!);
    expect(state).toMatchObject({ result: 'unverified', failures: 3 });
    // A busy host (a change holds it) is neither ok nor a failure.
    await recordCheck(services, target, { status: 'busy', reason: 'busy' });
    expect(JSON.parse((await store.get(checkStateKey('host:web1')))!).failures).toBe(3);
  });

  it('a Re-apply button carries only validated values and becomes the original command', () => {
    expect(reapplyText(parseReapply('{"command":"block-ip","host":"web2","address":"203.0.113.7"}'))).toBe(
      'block-ip web2 203.0.113.7 --reason "re-apply after containment drift reported by ward"',
    );
    expect(() => parseReapply('{"command":"lockdown","host":"web1; rm -rf /"}')).toThrow(/malformed/);
    expect(() =>
      parseReapply('{"command":"block-ip","host":"web1","address":"1.2.3.4 --break-glass"}'),
    ).toThrow();
    expect(() => parseReapply('{"command":"release","host":"web1"}')).toThrow(/malformed/);
    expect(reapplyText(parseReapply('{"command":"block-port","host":"web3","port":"53/udp"}'))).toBe(
      'block-port web3 53/udp --reason "re-apply after containment drift reported by ward"',
    );
    for (const port of ['22; touch /tmp/pwn', '0', '70000/tcp', '8080/icmp', '8080 --break-glass']) {
      expect(() => parseReapply(JSON.stringify({ command: 'block-port', host: 'web3', port }))).toThrow(
        /malformed/,
      );
    }
  });
});

describe('records of what ward holds are durable (Redis WAIT with replicas)', () => {
  /** A store that remembers which keys were written inside durable() and which outside. */
  class WatchedStore extends MemoryStore {
    depth = 0;
    readonly durableKeys = new Set<string>();
    readonly plainKeys = new Set<string>();
    override async durable<T>(write: () => Promise<T>): Promise<T> {
      this.depth++;
      try {
        return await write();
      } finally {
        this.depth--;
      }
    }
    private note(key: string): void {
      (this.depth > 0 ? this.durableKeys : this.plainKeys).add(key);
    }
    override async set(key: string, value: string, ttlMs?: number): Promise<void> {
      this.note(key);
      return super.set(key, value, ttlMs);
    }
    override async del(key: string): Promise<boolean> {
      this.note(key);
      return super.del(key);
    }
  }

  it('lockdown state, blocked addresses, closed ports and quarantine records are written and removed durably', async () => {
    const store = new WatchedStore();
    const entry = { since: 1, by: 'U1', requestId: 'r-1', thread: { channel: 'C1', ts: '1.1' } };
    await writeHostState(store, 'web1', {
      status: 'locked',
      since: 1,
      by: 'U1',
      requestId: 'r-1',
      managementCidrs: ['198.51.100.1/32'],
    });
    await clearHostState(store, 'web1');
    await writeHeld(store, 'web1', 'blocked', { '203.0.113.7': entry });
    await writeHeld(store, 'web1', 'blocked', {});
    await writeHeld(store, 'web1', 'ports', { '8080/tcp': entry });
    await saveRecord(store, { version: 1, instanceId: 'i-0123456789abcdef0' } as unknown as QuarantineRecord);
    expect([...store.durableKeys].sort()).toEqual([
      'ward:cloud:quarantine:i-0123456789abcdef0',
      'ward:host:web1:blocked',
      'ward:host:web1:ports',
      'ward:host:web1:state',
    ]);
    expect([...store.plainKeys]).toEqual([]);
  });
});
