import { isIP } from 'node:net';
import { z } from 'zod';
import { CLOUD_PROVIDER_NAMES, type CloudProviderName, cloudProvider } from '../adapters/cloud-providers.js';
import { UserInputError } from '../errors.js';
import type { HostTarget } from '../ports/remote-shell.js';

/** Executables whose hashes forensics always records: the usual targets of a trojaned binary. */
export const DEFAULT_HASH_PATHS = [
  '/usr/sbin/sshd',
  '/usr/bin/ssh',
  '/usr/bin/sudo',
  '/usr/bin/su',
  '/bin/login',
  '/usr/bin/passwd',
] as const;

/** Where `hunt sha256:…` looks for files by default (inventory `hunt.paths` replaces the list). */
export const DEFAULT_HUNT_PATHS = [
  '/tmp',
  '/var/tmp',
  '/dev/shm',
  '/usr/local/bin',
  '/usr/bin',
  '/usr/sbin',
  '/opt',
  '/home',
  '/root',
] as const;

/** Host names as ward accepts them anywhere (command arguments, inventory keys): no shell metacharacters. */
export const HOST_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$/;
export const TAG_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
/** `SHA256:` + unpadded base64 of 32 bytes, as `ssh-keygen -lf` prints it. */
export const HOST_KEY_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** What a `transport: local` host shows where SSH hosts show their pinned key (approvers see it in the plan). */
export const LOCAL_HOST_KEY = 'local (no SSH: runs on the ward machine)';

const hostName = z
  .string()
  .regex(HOST_NAME_PATTERN, 'host names are lowercase letters, digits, dots and dashes (e.g. web1)');
const address = z
  .string()
  .refine(
    (v) => isIP(v) !== 0 || /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/i.test(v),
    'must be an IP address or a DNS name',
  );
const cidr = z.string().refine(isCidr, 'must be an IPv4 or IPv6 address with an optional /prefix');

export function isCidr(value: string): boolean {
  const [ip, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || ip === undefined) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const absolutePath = z
  .string()
  .refine(
    (v) => v.startsWith('/') && !/[\0\r\n]/.test(v) && !v.split('/').includes('..') && v.length <= 4096,
    'must be an absolute path without ".." or line breaks',
  );

/** Where ward persists containment on a host so that it survives a reboot (docs/hosts.md, "Containment that holds"). */
export const DEFAULT_PERSIST = { unitDir: '/etc/systemd/system', stateDir: '/etc/ward' } as const;

/** A directory ward writes into on hosts: plain path characters only (it is shown in plans and unit files). */
const persistDir = absolutePath.refine(
  (v) => /^\/[A-Za-z0-9_./-]{0,200}$/.test(v) && !v.endsWith('/'),
  'must be a plain absolute directory path (letters, digits, _ . / -), without a trailing slash',
);

const persist = z.object({ unitDir: persistDir.optional(), stateDir: persistDir.optional() }).strict();

const connection = {
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/)
    .optional(),
  port: z.number().int().min(1).max(65535).optional(),
  key: z.string().min(1).optional(),
  /** argv of a ProxyCommand (OpenSSH style, %h and %p replaced), for bastions. */
  proxyCommand: z.array(z.string()).min(1).optional(),
  /** Where ward writes its boot-time containment: the systemd unit directory and ward's own state directory. */
  persist: persist.optional(),
  /**
   * Run every command as `sudo -n -- <command>`: `user` is then a non-root account whose sudoers file allows
   * exactly ward's commands (`npm run doctor -- sudoers`). Default false: `user` is root.
   */
  sudo: z.boolean().optional(),
};

/** Which cloud the host's instance is in (`provider`, default aws: the registry's adapter) and where. */
const cloud = z
  .object({
    provider: z.enum(CLOUD_PROVIDER_NAMES).default('aws'),
    region: z.string(),
    instanceId: z.string(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Ids and regions are the provider's: checked here so that a typo fails at start-up, not mid-incident.
    const provider = cloudProvider(c.provider);
    if (!provider.regionPattern.test(c.region)) {
      ctx.addIssue({ code: 'custom', path: ['region'], message: `must be ${provider.regionHint}` });
    }
    if (!provider.instanceIdPattern.test(c.instanceId)) {
      ctx.addIssue({ code: 'custom', path: ['instanceId'], message: `must be ${provider.instanceIdHint}` });
    }
  });

export const inventoryHost = z
  .object({
    address,
    /**
     * `ssh` (default): reached over SSH with a pinned host key. `local`: the machine ward runs on; commands run
     * there directly as ward's user (no SSH, no host key).
     */
    transport: z.enum(['ssh', 'local']).optional(),
    hostKey: z
      .string()
      .regex(HOST_KEY_PATTERN, 'must be a pinned fingerprint "SHA256:…" as printed by ssh-keygen -lf')
      .optional(),
    tags: z.array(z.string().regex(TAG_PATTERN)).default([]),
    ...connection,
    cloud: cloud.optional(),
  })
  .strict()
  .superRefine((h, ctx) => {
    if (h.transport !== 'local' && h.hostKey === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['hostKey'],
        message:
          'is required for SSH hosts: the pinned fingerprint "SHA256:…" as printed by ssh-keygen -lf (or set transport: local for the machine ward runs on)',
      });
    }
    if (h.transport === 'local' && h.sudo === true) {
      ctx.addIssue({
        code: 'custom',
        path: ['sudo'],
        message: "applies to SSH hosts only: a local host's commands run as ward's own user",
      });
    }
    if (h.transport === 'local' && (h.hostKey !== undefined || h.proxyCommand !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['transport'],
        message: 'local hosts are not reached over SSH: remove hostKey and proxyCommand',
      });
    }
  });

export const inventorySchema = z
  .object({
    management: z.object({ cidrs: z.array(cidr).min(1, 'list at least one management CIDR') }).strict(),
    /** Forensics settings for every host: extra executables whose sha256 is recorded. */
    forensics: z
      .object({ hashPaths: z.array(absolutePath).max(200).optional() })
      .strict()
      .default({}),
    /** Hunt settings for every host: the directories `hunt sha256:…` searches (each bounded by -xdev). */
    hunt: z
      .object({ paths: z.array(absolutePath).min(1).max(100).optional() })
      .strict()
      .default({}),
    defaults: z.object(connection).strict().default({}),
    hosts: z.record(hostName, inventoryHost).default({}),
  })
  .strict();

export type InventoryFile = z.infer<typeof inventorySchema>;

export interface InventoryHost extends HostTarget {
  tags: string[];
  /** Where ward persists containment on this host; absent: DEFAULT_PERSIST (see persistDirs). */
  persist?: { unitDir: string; stateDir: string } | undefined;
  cloud?: { provider: CloudProviderName; region: string; instanceId: string } | undefined;
}

export interface Inventory {
  managementCidrs: string[];
  /** Files whose sha256 forensics records on every host (defaults plus the inventory's `forensics.hashPaths`). */
  forensicsHashPaths: string[];
  /** Directories `hunt sha256:…` searches (inventory `hunt.paths`, else DEFAULT_HUNT_PATHS). */
  huntPaths: string[];
  hosts: ReadonlyMap<string, InventoryHost>;
}

export const EMPTY_INVENTORY: Inventory = {
  managementCidrs: [],
  forensicsHashPaths: [...DEFAULT_HASH_PATHS],
  huntPaths: [...DEFAULT_HUNT_PATHS],
  hosts: new Map(),
};

export function toInventory(file: InventoryFile): Inventory {
  const hosts = new Map<string, InventoryHost>();
  for (const [name, h] of Object.entries(file.hosts)) {
    hosts.set(name, {
      name,
      address: h.address,
      port: h.port ?? file.defaults.port ?? 22,
      user: h.user ?? file.defaults.user ?? 'root',
      keyPath: h.key ?? file.defaults.key ?? '/etc/ward/id_ed25519',
      hostKey: h.hostKey ?? LOCAL_HOST_KEY,
      proxyCommand: h.transport === 'local' ? undefined : (h.proxyCommand ?? file.defaults.proxyCommand),
      transport: h.transport ?? 'ssh',
      sudo: h.transport === 'local' ? false : (h.sudo ?? file.defaults.sudo ?? false),
      tags: h.tags,
      persist: {
        unitDir: h.persist?.unitDir ?? file.defaults.persist?.unitDir ?? DEFAULT_PERSIST.unitDir,
        stateDir: h.persist?.stateDir ?? file.defaults.persist?.stateDir ?? DEFAULT_PERSIST.stateDir,
      },
      cloud: h.cloud,
    });
  }
  const hashPaths = [...new Set([...DEFAULT_HASH_PATHS, ...(file.forensics.hashPaths ?? [])])];
  return {
    managementCidrs: file.management.cidrs,
    forensicsHashPaths: hashPaths,
    huntPaths: [...new Set(file.hunt.paths ?? DEFAULT_HUNT_PATHS)],
    hosts,
  };
}

/** The host's persistence directories, defaults filled in. */
export function persistDirs(host: Pick<InventoryHost, 'persist'>): { unitDir: string; stateDir: string } {
  return host.persist ?? { ...DEFAULT_PERSIST };
}

/** Most hosts one comma-separated list may name (a hunt's hits, typed by hand or carried by a button). */
export const MAX_HOST_LIST = 500;

/** `web2,web4`: two or more host names, comma-separated, no spaces (how a hunt's hits become one request). */
export function isHostList(value: string): boolean {
  const names = value.split(',');
  return names.length >= 2 && names.length <= MAX_HOST_LIST && names.every((n) => HOST_NAME_PATTERN.test(n));
}

/** A command argument naming hosts: a host name, a list `web1,web2` or `tag:<tag>`. Validated before anything else. */
export const hostSelectorArg = z
  .string()
  .refine(
    (v) =>
      HOST_NAME_PATTERN.test(v) || isHostList(v) || (v.startsWith('tag:') && TAG_PATTERN.test(v.slice(4))),
    'must be a host name from the inventory (e.g. web1), a list such as web1,web2, or a selector such as tag:web',
  );

/** A command argument naming exactly one host. */
export const hostNameArg = z
  .string()
  .regex(HOST_NAME_PATTERN, 'must be a host name from the inventory (e.g. web1), not a selector');

/** A command argument naming one host or an explicit list of them (`web1,web2`), never a tag. */
export const hostListArg = z
  .string()
  .refine(
    (v) => HOST_NAME_PATTERN.test(v) || isHostList(v),
    'must be a host name from the inventory (e.g. web1) or a list such as web1,web2 (no tag: selector)',
  );

/** Resolves a host name or tag selector against the inventory; unknown names are a clear user error. */
export function resolveHosts(inventory: Inventory, selector: string): InventoryHost[] {
  if (selector.startsWith('tag:')) {
    const tag = selector.slice(4);
    const found = [...inventory.hosts.values()].filter((h) => h.tags.includes(tag));
    if (found.length === 0) throw new UserInputError(`No host in the inventory has the tag \`${tag}\`.`);
    return found.sort((a, b) => a.name.localeCompare(b.name));
  }
  if (selector.includes(',')) {
    const names = [...new Set(selector.split(','))];
    return names.flatMap((n) => resolveHosts(inventory, n));
  }
  const host = inventory.hosts.get(selector);
  if (!host) {
    const known = [...inventory.hosts.keys()].sort();
    throw new UserInputError(
      known.length === 0
        ? `Unknown host \`${selector}\`: the inventory is empty (set WARD_INVENTORY).`
        : `Unknown host \`${selector}\`. Known hosts: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}.`,
    );
  }
  return [host];
}
