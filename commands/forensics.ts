import { z } from 'zod';
import { jobFrom, planHost, runOnHosts } from '../src/actions/execution-helpers.js';
import { forensicsPlanCommand } from '../src/actions/forensics.js';
import { withHost } from '../src/actions/host-session.js';
import { hostStep } from '../src/actions/remote-command.js';
import { snapshotHost } from '../src/actions/snapshot.js';
import { hostSelectorArg, resolveHosts } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';

/**
 * `/ward forensics <host|tag:…>`: collect evidence from hosts without changing them. Each host's summary goes to
 * the request's thread with its evidence bundle (uploaded), and to the admins by email.
 */
export default defineCommand({
  name: 'forensics',
  summary: 'Collect evidence (users, processes, sockets, files, hashes, logs) from hosts, changing nothing',
  usage: 'forensics <host|tag:selector> [--reason "…"]',
  examples: ['forensics web1', 'forensics tag:web --reason "INC-42 beaconing"'],
  kind: 'change',
  // Reads evidence and changes nothing on the hosts: runs even under WARD_DRY_RUN.
  readOnly: true,
  args: z.object({ target: hostSelectorArg }),
  positionals: ['target'],
  policy: { allow: ['responder', 'approver', 'admin'], approvals: 0, mfa: 'none', auto: true },
  details:
    'Runs one fixed, read-only script per host over SSH (one channel). Collects: logged-in users, recent logins, processes with executable paths (flagging deleted binaries and those in /tmp, /var/tmp, /dev/shm), listening sockets, established connections, open files, sha256 of listener executables and of the inventory paths, auth and system logs, crontabs, kernel modules, files changed in the last 24 h under /etc, /tmp, /var/tmp. Evidence is kept in WARD_EVIDENCE_DIR/<request>/<host>/forensics/ with manifest.json and a tar.gz bundle.',
  async plan({ args, services }) {
    const inventory = services.inventory();
    const hosts = resolveHosts(inventory, args.target);
    const line = forensicsPlanCommand(inventory.forensicsHashPaths);
    return {
      command: 'forensics',
      args: { target: args.target },
      hosts: hosts.map(planHost),
      steps: hosts.map((h) =>
        hostStep({
          id: `${h.name}.forensics`,
          title: `Collect evidence on ${h.name} (${h.address}), read-only`,
          host: h.name,
          run: [line],
        }),
      ),
    };
  },
  async execute(ctx) {
    const job = jobFrom(ctx);
    return runOnHosts(ctx, (host) =>
      withHost(job, host, async (session) => {
        const snap = await snapshotHost(job, session, host);
        const h = snap.result.highlights;
        const ok = snap.result.artifacts.filter((a) => a.status === 'ok').length;
        const collected = `${ok}/${snap.result.artifacts.length} artifacts, ${h.suspiciousProcesses.length} suspicious process(es), bundle sha256 ${snap.saved.bundleSha256.slice(0, 16)}…${snap.email === 'failed' ? ' (email to admins failed)' : ''}`;
        // A run stopped at the command timeout is not a collection: the host hung, and what follows was never read.
        if (snap.result.timedOut) {
          const limit = Number((ctx.services.config.WARD_SSH_COMMAND_TIMEOUT_MS / 1000).toFixed(1));
          return {
            host: host.name,
            ok: false,
            detail: `the collection did not finish within ${limit} s (WARD_SSH_COMMAND_TIMEOUT_MS)${snap.result.hungIn ? `, stuck in ${snap.result.hungIn}` : ''}, and was stopped; kept what arrived: ${collected}.`,
          };
        }
        return { host: host.name, ok: true, detail: `${collected}.` };
      }),
    );
  },
});
