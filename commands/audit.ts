import { z } from 'zod';
import { HOST_NAME_PATTERN } from '../src/config/inventory.js';
import { defineCommand } from '../src/core/command.js';
import { REQUEST_ID_PATTERN } from '../src/core/ids.js';
import type { AuditFilter, AuditRecord } from '../src/ports/audit.js';
import { code, context, esc, header, mention, section } from '../src/render/blocks.js';
import { outcomeLabel } from '../src/render/outcome.js';
import { clockTime } from '../src/render/time.js';

/** How many entries one answer shows: enough for one incident, short enough to read in Slack. */
const SHOWN = 15;

const USER_MENTION = /^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$/;
const USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** What the argument names: a request (`r-…`), a user (mention or id), or else a host. */
export function auditFilterFor(target: string | undefined): { filter: AuditFilter; label: string } {
  if (target === undefined) return { filter: {}, label: 'all' };
  if (REQUEST_ID_PATTERN.test(target)) return { filter: { requestId: target }, label: `request ${target}` };
  const m = USER_MENTION.exec(target);
  const user = m ? m[1]! : USER_ID.test(target) ? target : undefined;
  if (user !== undefined) return { filter: { actor: user }, label: `<@${user}>` };
  return { filter: { host: target }, label: `host ${target}` };
}

export const auditTarget = z
  .string()
  .refine(
    (v) => REQUEST_ID_PATTERN.test(v) || USER_MENTION.test(v) || USER_ID.test(v) || HOST_NAME_PATTERN.test(v),
    'must be a host name (web1), a user (@alice or U012ABC) or a request id (r-7f3a9c)',
  );

function line(r: AuditRecord, now: number): string {
  const at = Date.parse(r.at);
  const when = Number.isNaN(at) ? esc(r.at) : clockTime(at, now);
  const parts = [when, `*${esc(r.type)}*`];
  if (r.command) parts.push(code(r.command));
  if (r.hosts?.length)
    parts.push(`on ${r.hosts.slice(0, 5).map(esc).join(', ')}${r.hosts.length > 5 ? '…' : ''}`);
  if (r.actor) parts.push(`by ${mention(r.actor)}`);
  if (r.outcome) {
    // Entries written before `dry_run` was an outcome say `succeeded` with details.dryRun: they were dry runs.
    const dryRun = (r.details as { dryRun?: unknown } | undefined)?.dryRun === true;
    const o = outcomeLabel(r.outcome, dryRun);
    parts.push(`→ ${o.icon ? `${o.icon} ` : ''}${esc(o.label)}`);
  }
  if (r.requestId) parts.push(`(${esc(r.requestId)})`);
  return parts.join(' ');
}

/** `/ward audit [host|user|request-id]`: the most recent audit entries, optionally about one host, person or request. */
export default defineCommand({
  name: 'audit',
  summary: 'Show recent audit log entries, for a host, a person or a request',
  usage: 'audit [host|@user|request-id]',
  examples: ['audit', 'audit web1', 'audit @alice', 'audit r-7f3a9c'],
  details:
    'Entries come from the hash-chained audit log, newest first. To check that the log has not been edited, run `npm run audit -- verify` on the server.',
  kind: 'read',
  args: z.object({ target: auditTarget.optional() }),
  positionals: ['target'],
  policy: { allow: ['approver', 'admin'] },
  async run({ args, reply, services }) {
    const { filter, label } = auditFilterFor(args.target);
    const records = await services.audit.recent(filter, SHOWN);
    if (records.length === 0) {
      await reply.ephemeral({ text: `No audit entries for ${label === 'all' ? 'anything yet' : label}.` });
      return;
    }
    const title = label === 'all' ? 'Audit log: latest entries' : `Audit log: ${label}`;
    await reply.ephemeral({
      text: `${records.length} most recent audit entries for ${label}`,
      blocks: [
        header(title.replace(/<@([A-Z0-9]+)>/, '$1')),
        section(records.map((r) => line(r, services.clock.now())).join('\n')),
        context(
          `Newest first, at most ${SHOWN}. The full log: \`npm run audit -- export\`; its integrity: \`npm run audit -- verify\`.`,
        ),
      ],
    });
  },
});
