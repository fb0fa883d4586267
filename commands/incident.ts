import { z } from 'zod';
import { defineCommand } from '../src/core/command.js';
import { UserInputError } from '../src/errors.js';
import { ALERT_REF_PATTERN, openFromAlertRef } from '../src/incidents/from-alert.js';
import {
  INCIDENT_ID_PATTERN,
  type IncidentRole,
  parseUser,
  roles,
  severities,
  statuses,
} from '../src/incidents/incident.js';

const ACTIONS = [
  'open',
  'resume',
  'note',
  'role',
  'severity',
  'status',
  'update',
  'timeline',
  'export',
  'close',
  'stats',
] as const;

const USAGE = `incident [open "<title>" [--severity sev1|sev2|sev3|sev4] [--commander @user] | note "<text>" | update "<text>" | role @user commander|scribe|comms | severity sev1…sev4 | status investigating|contained|monitoring|resolved | timeline | export | close --summary "<text>" [--archive] | resume INC-<n> | stats]`;

/**
 * `/ward incident …`: open an incident (a channel, roles, a pinned header, announcements), then work in its
 * channel: notes, roles, severity, status, updates, the timeline (the hash-chained audit log) and its export, and
 * close with a post-incident report draft. Everything else done with ward in that channel is attached to the
 * incident. Who may do what is policy: `allow` for the command, `actions.close` and `actions.role` on top
 * (defaults: the incident's commander or an admin).
 */
export default defineCommand({
  name: 'incident',
  summary: 'Open and work an incident: its own channel, roles, a tamper-evident timeline, a report',
  usage: USAGE,
  examples: [
    'incident open "Outbound to known C2 from web1" --severity sev2 --commander @alice',
    'incident note "web1 egress blocked at the firewall too"',
    'incident role @bob scribe',
    'incident status contained',
    'incident export',
    'incident close --summary "Credential stuffing, contained by lockdown" --archive',
  ],
  kind: 'read',
  args: z.object({
    action: z.enum(ACTIONS, { error: `must be one of ${ACTIONS.join(', ')}` }).optional(),
    subject: z.string().optional(),
    value: z.string().optional(),
    severity: z.enum(severities, { error: `must be one of ${severities.join(', ')}` }).optional(),
    commander: z.string().optional(),
    summary: z.string().optional(),
    archive: z.union([z.boolean(), z.string()]).optional(),
    /** `open --alert <ref>`: what the **Open incident** button under a relayed alert asks for. */
    alert: z.string().regex(ALERT_REF_PATTERN, 'must be the reference of an alert ward relayed').optional(),
  }),
  positionals: ['action', 'subject', 'value'],
  options: {
    severity: { key: 'severity' },
    commander: { key: 'commander' },
    summary: { key: 'summary' },
    archive: { key: 'archive', boolean: true },
    alert: { key: 'alert' },
  },
  policy: {
    allow: ['responder', 'approver', 'admin'],
    actions: { close: ['commander', 'admin'], role: ['commander', 'admin'] },
  },
  details:
    "In an incident channel every ward command, approval, execution and evidence bundle is attached to the incident and appears on its timeline. `export` uploads INC-<n>-timeline.md and .jsonl with each entry's audit sequence and hash and whether the chain verified over that range. `close` (commander or admin) resolves it and uploads a report draft that lists containment still in place first. The **Open incident** button under a relayed alert asks for `incident open --alert <ref>`: titled and graded after the alert, one incident per alert.",
  async run({ args, invocation, reply, services }) {
    const incidents = services.incidents;
    const user = invocation.user;
    const extra = (n: number) => {
      const given = [args.subject, args.value].filter((v) => v !== undefined).length;
      if (given > n)
        throw new UserInputError(
          `Too many arguments for \`incident ${args.action}\`. Usage: \`/ward ${USAGE}\``,
        );
    };
    switch (args.action) {
      case 'open': {
        extra(1);
        if (args.alert !== undefined) {
          // The alert's button: titled and graded after the alert, linked to its message (the thread we answer in).
          if (args.subject !== undefined) throw new UserInputError('`incident open --alert` takes no title.');
          const at = { channel: invocation.channel, ts: invocation.threadTs };
          await incidents.reportOpen(
            await openFromAlertRef(services, { requester: user, ref: args.alert, at }),
            reply,
          );
          return;
        }
        if (args.subject === undefined) {
          throw new UserInputError(
            '`incident open` needs a title: `/ward incident open "what is happening"`.',
          );
        }
        const commander = args.commander === undefined ? undefined : parseUser(args.commander, '--commander');
        const outcome = await incidents.open({
          requester: user,
          title: args.subject,
          severity: args.severity ?? 'sev3',
          commander,
          originChannel: invocation.channel,
        });
        await incidents.reportOpen(outcome, reply);
        return;
      }
      case 'resume': {
        extra(1);
        const id = args.subject ?? (await incidents.store.byChannel(invocation.channel));
        if (id === undefined || !INCIDENT_ID_PATTERN.test(id)) {
          throw new UserInputError('Name the incident to resume: `/ward incident resume INC-3`.');
        }
        await incidents.reportOpen(await incidents.resume(id), reply);
        return;
      }
      case 'stats':
        extra(0);
        await reply.ephemeral({ text: await incidents.stats() });
        return;
      default:
        break;
    }
    const incident = await incidents.ofChannel(invocation.channel);
    switch (args.action) {
      case undefined:
        await reply.ephemeral(await incidents.card(incident));
        return;
      case 'note':
        extra(1);
        await incidents.note(incident, user, args.subject ?? '');
        await reply.ephemeral({ text: `:memo: Added to the ${incident.id} timeline.` });
        return;
      case 'update':
        extra(1);
        await incidents.update(incident, user, args.subject ?? '');
        return;
      case 'role': {
        extra(2);
        const role = args.value as IncidentRole | undefined;
        if (args.subject === undefined || role === undefined || !roles.includes(role)) {
          throw new UserInputError(`Usage: \`/ward incident role @user ${roles.join('|')}\`.`);
        }
        const who = parseUser(args.subject, 'user');
        await incidents.setRole(incident, user, who, role);
        await reply.inChannel({ text: `<@${who}> is now ${role} of ${incident.id} (set by <@${user}>).` });
        return;
      }
      case 'severity': {
        extra(1);
        const s = severities.find((x) => x === args.subject);
        if (s === undefined)
          throw new UserInputError(`Usage: \`/ward incident severity ${severities.join('|')}\`.`);
        await incidents.setSeverity(incident, user, s);
        await reply.inChannel({
          text: `${incident.id} severity: ${incident.severity} → ${s} (by <@${user}>).`,
        });
        return;
      }
      case 'status': {
        extra(1);
        const s = statuses.find((x) => x === args.subject);
        if (s === undefined)
          throw new UserInputError(`Usage: \`/ward incident status ${statuses.join('|')}\`.`);
        await incidents.setStatus(incident, user, s);
        await reply.inChannel({ text: `${incident.id} status: ${incident.status} → ${s} (by <@${user}>).` });
        return;
      }
      case 'timeline':
        extra(0);
        await reply.ephemeral(await incidents.timelineMessage(incident));
        return;
      case 'export': {
        extra(0);
        const { verified } = await incidents.export(incident, user, invocation.channel);
        await reply.ephemeral({
          text: `Uploaded ${incident.id}-timeline.md and ${incident.id}-timeline.jsonl (audit chain verified: ${verified === null ? 'nothing to verify' : verified}).`,
        });
        return;
      }
      case 'close': {
        extra(0);
        if (args.summary === undefined) {
          throw new UserInputError('`incident close` needs `--summary "what happened and how it ended"`.');
        }
        await incidents.close(incident, user, args.summary, {
          archive: args.archive === true,
          channel: invocation.channel,
        });
        return;
      }
    }
  },
});
