import { z } from 'zod';
import { planHost } from '../src/actions/execution-helpers.js';
import { huntPlanCommand } from '../src/actions/hunt.js';
import { openUnblockAfterHunt } from '../src/actions/hunt-buttons.js';
import {
  INDICATOR_HELP,
  INDICATOR_KINDS,
  indicatorText,
  parseIndicator,
  parseIndicators,
} from '../src/actions/hunt-indicators.js';
import { huntBounds, runHunt } from '../src/actions/hunt-run.js';
import { parsePortSpec } from '../src/actions/ports.js';
import { hostStep } from '../src/actions/remote-command.js';
import {
  hostSelectorArg,
  type Inventory,
  type InventoryHost,
  resolveHosts,
} from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';
import { UserInputError, WardError } from '../src/errors.js';

const targetArg = z
  .string()
  .refine(
    (v) => v === 'all' || hostSelectorArg.safeParse(v).success,
    'must be a host name (e.g. web1), a list such as web1,web2, tag:<tag>, or all',
  );

/** Each word checked on its own, so the reply names the exact indicator and what is wrong with it. */
const indicatorsArg = z.array(z.string()).transform((words, ctx) => {
  try {
    parseIndicators(words);
    return words.map((w) => indicatorText(parseIndicator(w)));
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof WardError ? err.userMessage : String(err) });
    return z.NEVER;
  }
});

function huntHosts(inventory: Inventory, target: string): InventoryHost[] {
  if (target !== 'all') return resolveHosts(inventory, target);
  const every = [...inventory.hosts.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (every.length === 0)
    throw new UserInputError('The inventory is empty (set WARD_INVENTORY): nothing to hunt on.');
  return every;
}

/**
 * `/ward hunt <host|tag:…|all> <indicator>…`: asks every host, read-only and in one SSH channel each, whether it
 * has any of the indicators. Every host answers once: hit, clean, partial (a bound stopped the search) or failed
 * (never counted as clean). The summary's buttons turn the hits into one request (forensics, lockdown, a port).
 */
export default defineCommand({
  name: 'hunt',
  summary:
    'Ask hosts whether they have an indicator (hash, file, process, ip, port, user, package), read-only',
  usage: `hunt <host|tag:selector|all> <indicator>… [--time-limit seconds] [--then-unblock-port port] [--reason "…"]   indicators: ${INDICATOR_KINDS.map((k) => INDICATOR_HELP[k].split(' ')[0]).join(' ')}`,
  examples: [
    'hunt all sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    'hunt tag:web process:kworker-upd ip:203.0.113.0/24 port:4444',
    'hunt tag:web package:openssh-server<1:9.2p1-2+deb12u3 user:backdoor file:/etc/cron.d/upd',
    'hunt tag:web file:/tmp/.x/kworker-upd --then-unblock-port 443',
  ],
  kind: 'change',
  // Reads only: runs even under WARD_DRY_RUN, and shares hosts with other reads.
  readOnly: true,
  args: z.object({
    target: targetArg,
    indicators: indicatorsArg,
    timeLimit: z.coerce
      .number()
      .min(0.05, 'must be at least 0.05 seconds')
      .max(86_400, 'must be at most 86400 seconds')
      .optional(),
    thenUnblockPort: z
      .string()
      .refine((v) => {
        try {
          parsePortSpec(v);
          return true;
        } catch {
          return false;
        }
      }, 'must be a port 1-65535, optionally /tcp or /udp (e.g. 443 or 53/udp)')
      .optional(),
  }),
  positionals: ['target', 'indicators'],
  variadic: true,
  options: {
    'time-limit': { key: 'timeLimit' },
    'then-unblock-port': { key: 'thenUnblockPort' },
  },
  policy: { allow: ['responder', 'approver', 'admin'], approvals: 0, mfa: 'none' },
  details: `Each host runs one fixed, read-only script over one SSH channel; values reach it only through its environment, after validation. Indicators: ${INDICATOR_KINDS.map((k) => INDICATOR_HELP[k]).join('; ')}. sha256 searches the inventory's hunt.paths (default /tmp /var/tmp /dev/shm /usr/local/bin /usr/bin /usr/sbin /opt /home /root) with -xdev, skipping files over WARD_HUNT_MAX_FILE_BYTES, hashing at most WARD_HUNT_MAX_FILES files within WARD_HUNT_SCAN_TIMEOUT_MS (or --time-limit, if shorter); any bound reached makes the host partial. Every host answers hit, clean, partial or failed (unreachable, timeout, wrong host key or missing tool: never clean). Results: a summary with buttons (forensics, lockdown, close a port, quarantine for cloud hosts) and hunt-<id>.jsonl/.csv with sha256, kept in WARD_EVIDENCE_DIR. --then-unblock-port opens an unblock-port request for the hosts found clean.`,
  async plan({ args, services }) {
    const inventory = services.inventory();
    const hosts = huntHosts(inventory, args.target);
    const indicators = parseIndicators(args.indicators);
    const line = huntPlanCommand(indicators, huntBounds(services, args.timeLimit));
    return {
      command: 'hunt',
      args: {
        target: args.target,
        indicators: args.indicators,
        ...(args.timeLimit !== undefined ? { timeLimit: args.timeLimit } : {}),
        ...(args.thenUnblockPort !== undefined ? { thenUnblockPort: args.thenUnblockPort } : {}),
      },
      hosts: hosts.map(planHost),
      steps: hosts.map((h) =>
        hostStep({
          id: `${h.name}.hunt`,
          title: `Hunt on ${h.name} (${h.address}), read-only: ${args.indicators.join(' ')}`,
          host: h.name,
          run: [line],
        }),
      ),
    };
  },
  async execute(ctx) {
    const indicators = parseIndicators(ctx.args.indicators);
    const { report, record } = await runHunt(ctx, indicators, huntBounds(ctx.services, ctx.args.timeLimit));
    if (ctx.args.thenUnblockPort !== undefined)
      await openUnblockAfterHunt(ctx.services, record, ctx.args.thenUnblockPort);
    return report;
  },
});
