import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_STREAM } from '../../src/audit/chain.js';
import { runAuditCli } from '../../src/cli/audit.js';
import type { FakeMessage } from '../fakes/fake-slack.js';
import {
  auditEvents,
  click,
  ENCRYPTION_KEY,
  metricValue,
  newChannel,
  responses,
  type Shared,
  SIGNING_SECRET,
  slash,
  startShared,
  startTestWard,
  USERS,
  type Ward,
  waitFor,
  waitForResponse,
} from '../helpers/approval-harness.js';
import { newTriggerId, postToSlackEndpoint } from '../helpers/slack-requests.js';

/*
 * Incidents end to end: ward in-process on a real redis-server, driven through its signed Slack endpoint, the fake
 * Slack playing channels, pins, permalinks and uploads.
 */

const BROADCAST = 'C0BROADCAST';
const RESPONDERS = 'S0IRTEAM';
const IR_MEMBERS = ['U0IRMEMB01', 'U0IRMEMB02'];
const ALERT_TOKEN = 'generic-token-incidents';

let shared: Shared;
let ward: Ward | undefined;

beforeAll(async () => {
  shared = await startShared();
  shared.slack.setUsergroup(RESPONDERS, IR_MEMBERS);
});
afterAll(async () => {
  await shared?.close();
});
// The fake Slack lives across tests: each test looks only at the channels and calls that came after it started.
let channelsBefore = 0;
let createsBefore = 0;
beforeEach(async () => {
  await shared.client.flushall();
  channelsBefore = shared.slack.channels().length;
  createsBefore = shared.slack.callsTo('conversations.create').length;
});
const created = () => shared.slack.channels().slice(channelsBefore);
const creates = () => shared.slack.callsTo('conversations.create').slice(createsBefore);
afterEach(async () => {
  await ward?.stop();
  ward = undefined;
});

async function start(extraEnv: Record<string, string> = {}): Promise<Ward> {
  const rules = join(shared.dir, `rules-${Date.now()}.yaml`);
  writeFileSync(
    rules,
    `rules:
  - name: ir
    match: { labels.team: ir }
    route: { channel: C0IRALERTS }
    incident: auto
  - name: generic
    match: { source: generic }
    route: { channel: C0ALERTS }
    suggest: [forensics]
`,
  );
  ward = await startTestWard(
    shared,
    { forensics: { approvals: 0 } },
    {
      WARD_INCIDENT_RESPONDERS: RESPONDERS,
      WARD_INCIDENT_BROADCAST_CHANNEL: BROADCAST,
      WARD_RULES: rules,
      WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
      WARD_ALERT_TOKEN_GENERIC: ALERT_TOKEN,
      ...extraEnv,
    },
  );
  return ward;
}

function text(m: FakeMessage): string {
  return JSON.stringify(m.blocks ?? []) + (m.text ?? '');
}

/** Every non-ephemeral message (and every response_url reply) ward wrote anywhere. */
function everythingSaid(): string {
  return [
    ...shared.slack.messages().map(text),
    ...shared.slack.callsTo('response_url').map((c) => JSON.stringify(c.args)),
  ].join('\n');
}

async function openIncident(w: Ward, channel: string, command: string) {
  const { responseUrl } = await slash(shared, w.url, USERS.requester, channel, command);
  const answer = await waitForResponse(shared, responseUrl);
  return { answer, responseUrl };
}

function incidentChannel() {
  const [channel] = created();
  if (!channel) throw new Error('no channel was created');
  return channel;
}

async function postAlert(w: Ward, alert: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${w.handle.url}/alerts/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERT_TOKEN}` },
    body: JSON.stringify({ alerts: [alert] }),
  });
  expect(res.status).toBe(202);
}

function openButton(m: FakeMessage): { value: string } | undefined {
  const block = (m.blocks as Array<Record<string, unknown>> | undefined)?.find(
    (b) => b['type'] === 'actions',
  );
  return ((block?.['elements'] as Array<Record<string, string>> | undefined) ?? [])
    .filter((e) => e['action_id'] === 'incident.open_alert')
    .map((e) => ({ value: e['value']! }))[0];
}

describe('opening an incident', () => {
  it('from a command: a private channel, invitations, a pinned header, announcements; user text cannot ping', async () => {
    const w = await start();
    const origin = newChannel();
    const { answer } = await openIncident(
      w,
      origin,
      `incident open "Exfil from db1 <!channel> <@U0VICTIM1>" --severity sev2 --commander <@${USERS.approver1}|ann>`,
    );
    expect(answer).toContain('INC-1 is open');
    const channel = incidentChannel();
    expect(channel.name).toBe('inc-1-exfil-from-db1-channel-u0victim1');
    expect(channel.is_private).toBe(true);
    expect(creates()).toHaveLength(1);
    expect(new Set(channel.members)).toEqual(
      new Set([shared.slack.botUserId, USERS.requester, USERS.approver1, ...IR_MEMBERS]),
    );
    const header = shared.slack.messages(channel.id)[0]!;
    expect(channel.pins).toEqual([header.ts]);
    expect(text(header)).toContain('sev2');
    expect(text(header)).toContain(`<@${USERS.approver1}>`);
    expect(text(shared.slack.messages(origin).find((m) => !m.ephemeralFor)!)).toContain(`<#${channel.id}>`);
    expect(text(shared.slack.messages(BROADCAST)[0]!)).toContain('INC-1 opened');
    // The title is shown, never as a mention: <!channel> and <@U0VICTIM1> are escaped wherever ward wrote them.
    expect(everythingSaid()).not.toContain('<!channel>');
    expect(everythingSaid()).not.toContain('<@U0VICTIM1>');
    expect(everythingSaid()).toContain('&lt;!channel&gt;');
    const opened = (await auditEvents(shared)).find((e) => e.type === 'incident.opened');
    expect(opened).toMatchObject({ incident: 'INC-1', actor: USERS.requester });
  });

  it('a Slack error part-way is reported with what was done, and Retry resumes without a second channel', async () => {
    const w = await start();
    const origin = newChannel();
    shared.slack.errorNext('conversations.create', 'name_taken');
    const first = await openIncident(w, origin, 'incident open "Ransom note on fs1"');
    expect(first.answer).toContain('name_taken');
    expect(created()).toHaveLength(0);

    shared.slack.errorNext('pins.add', 'restricted_action');
    const retryMessage: FakeMessage = { channel: origin, ts: '1.000001', user: USERS.requester };
    const { responseUrl } = await click(
      shared,
      w.url,
      USERS.requester,
      retryMessage,
      'incident.resume',
      'INC-1',
    );
    const second = await waitForResponse(shared, responseUrl);
    expect(second).toContain('restricted_action');
    const channel = incidentChannel();
    // The taken name is not tried again: the next one gets a suffix.
    expect(channel.name).toBe('inc-1-ransom-note-on-fs1-2');
    expect(channel.pins).toEqual([]);

    const { responseUrl: again } = await click(
      shared,
      w.url,
      USERS.requester,
      retryMessage,
      'incident.resume',
      'INC-1',
    );
    expect(await waitForResponse(shared, again)).toContain('INC-1 is open');
    expect(created()).toHaveLength(1);
    expect(creates().filter((c) => !c.error)).toHaveLength(1);
    expect(incidentChannel().pins).toHaveLength(1);
    const steps = (await auditEvents(shared))
      .filter((e) => e.type === 'incident.open_step')
      .map((e) => e.outcome);
    expect(steps).toEqual(['name_taken', 'restricted_action', 'resumed']);
  });

  it('from the alert button: one incident per alert, however often it is clicked', async () => {
    const w = await start();
    await postAlert(w, {
      title: 'Outbound to C2 from web1',
      host: 'web1',
      severity: 'critical',
      fingerprint: 'fp-c2-web1',
    });
    const alertMessage = await waitFor('the alert', () =>
      shared.slack.messages('C0ALERTS').find((m) => !m.thread_ts && openButton(m)),
    );
    const button = openButton(alertMessage)!;
    const { responseUrl } = await click(
      shared,
      w.url,
      USERS.requester,
      alertMessage,
      'incident.open_alert',
      button.value,
    );
    expect(await waitForResponse(shared, responseUrl)).toContain('INC-1 is open');
    const channel = incidentChannel();
    expect(channel.name).toBe('inc-1-outbound-to-c2-from-web1');
    expect(text(shared.slack.messages(channel.id)[0]!)).toContain('Outbound to C2 from web1');
    // The announcement threads under the alert.
    expect(
      shared.slack
        .messages('C0ALERTS')
        .some((m) => m.thread_ts === alertMessage.ts && text(m).includes(`<#${channel.id}>`)),
    ).toBe(true);

    const second = await click(
      shared,
      w.url,
      USERS.approver1,
      alertMessage,
      'incident.open_alert',
      button.value,
    );
    expect(await waitForResponse(shared, second.responseUrl)).toContain('already open');
    expect(creates()).toHaveLength(1);
    const incident = JSON.parse((await shared.client.get('ward:incident:INC-1'))!) as {
      severity: string;
      alert: { fingerprint: string };
    };
    expect(incident).toMatchObject({ severity: 'sev1', alert: { fingerprint: 'fp-c2-web1' } });
  });

  it('incident: auto opens one for a matching alert, and the same alert again opens nothing new', async () => {
    const w = await start();
    const alert = {
      title: 'Mass file rename on fs1',
      severity: 'error',
      fingerprint: 'fp-rename',
      labels: { team: 'ir' },
    };
    await postAlert(w, alert);
    await waitFor('the auto-opened incident', () => created()[0]);
    await waitFor('its header pinned', () => (incidentChannel().pins.length === 1 ? true : undefined));
    await postAlert(w, { ...alert, summary: 'again' });
    await postAlert(w, { ...alert, title: 'Mass file rename on fs1 (resent)' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(creates()).toHaveLength(1);
    expect(JSON.parse((await shared.client.get('ward:incident:INC-1'))!)).toMatchObject({
      requester: shared.slack.botUserId,
    });
    expect(await shared.client.get('ward:incident:INC-2')).toBeNull();
  });
});

describe('working in the incident channel', () => {
  it('attaches commands, notes and evidence; export verifies the chain, and turns false once an entry is altered', async () => {
    const w = await start();
    await openIncident(w, newChannel(), 'incident open "Web shell on web1" --severity sev2');
    const channel = incidentChannel();
    const inc = async (command: string, user: string = USERS.requester) => {
      const { responseUrl } = await slash(shared, w.url, user, channel.id, command);
      return responseUrl;
    };

    expect(
      await waitForResponse(shared, await inc('incident note "Saw POST /upload.php from 203.0.113.9"')),
    ).toContain('Added');
    // The message shortcut: author, text and permalink of a message in the channel.
    const header = shared.slack.messages(channel.id)[0]!;
    const shortcutUrl = shared.slack.newResponseUrl({ channel: channel.id, user: USERS.approver1 });
    const payload = {
      type: 'message_action',
      token: 'x',
      action_ts: (Date.now() / 1000).toFixed(6),
      team: { id: shared.slack.teamId, domain: 'fake' },
      user: { id: USERS.approver1, name: 'ann', team_id: shared.slack.teamId },
      channel: { id: channel.id, name: channel.name },
      callback_id: 'incident.add_to_timeline',
      trigger_id: newTriggerId(),
      message_ts: header.ts,
      message: {
        type: 'message',
        user: 'U0WITNESS1',
        ts: header.ts,
        text: 'I saw the web shell first at 09:12',
      },
      response_url: shortcutUrl,
    };
    const res = await postToSlackEndpoint(
      w.url,
      SIGNING_SECRET,
      new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
      'form',
    );
    expect(res.status).toBe(200);
    expect(await waitForResponse(shared, shortcutUrl)).toContain('Added');

    // A ward command in the channel is attached, and so is an entry about its request recorded elsewhere later.
    await inc('forensics web1 --reason "web shell"');
    const requested = await waitFor('the forensics request', async () =>
      (await auditEvents(shared)).find((e) => e.type === 'approval.requested' && e.command === 'forensics'),
    );
    expect(requested.incident).toBe('INC-1');
    const sha256 = 'ab'.repeat(32);
    await w.handle.services.audit.record({
      type: 'artifact.collected',
      requestId: requested.requestId,
      hosts: ['web1'],
      details: { bundle: 'web1-forensics.tar.gz', sha256 },
    });

    const exportUrl = await inc('incident export');
    expect(await waitForResponse(shared, exportUrl)).toContain('verified: true');
    const files = shared.slack.files().filter((f) => f.channel === channel.id);
    const md = files.find((f) => f.name === 'INC-1-timeline.md')!.bytes.toString();
    const jsonl = files.find((f) => f.name === 'INC-1-timeline.jsonl')!.bytes.toString();
    expect(md).toContain('Saw POST /upload.php from 203.0.113.9');
    expect(md).toContain('I saw the web shell first at 09:12');
    expect(md).toContain('/archives/');
    expect(md).toContain('forensics');
    expect(md).toContain(sha256);
    const lines = jsonl
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l['type'] === 'artifact.collected')).toMatchObject({ evidence: { sha256 } });
    expect(
      lines.every(
        (l, i) =>
          i === lines.length - 1 ||
          (typeof l['seq'] === 'number' && /^[0-9a-f]{64}$/.test(String(l['hash']))),
      ),
    ).toBe(true);
    expect(lines.at(-1)).toMatchObject({ incident: 'INC-1', verified: true });
    const cli = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runAuditCli(
        ['verify', '--incident', 'INC-1'],
        { REDIS_URL: shared.redis.url, WARD_ENCRYPTION_KEY: ENCRYPTION_KEY },
        {
          out: async (t) => {
            out.push(t);
          },
          err: (t) => {
            err.push(t);
          },
        },
      );
      return { code, out: out.join(''), err: err.join('') };
    };
    const ok = await cli();
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);

    // Someone with Redis access rewrites the note (the stream rebuilt with one entry changed).
    const entries = await shared.client.xrange(AUDIT_STREAM, '-', '+');
    for (const [id, flat] of entries) {
      const fields = [...flat];
      const i = fields.indexOf('entry') + 1;
      fields[i] = fields[i]!.replace('203.0.113.9', '203.0.113.99');
      await shared.client.xadd(`${AUDIT_STREAM}:forged`, id, ...fields);
    }
    await shared.client.rename(`${AUDIT_STREAM}:forged`, AUDIT_STREAM);
    const again = await inc('incident export');
    expect(await waitForResponse(shared, again)).toContain('verified: false');
    const last = shared.slack
      .files()
      .filter((f) => f.name === 'INC-1-timeline.jsonl')
      .at(-1)!;
    expect(JSON.parse(last.bytes.toString().trim().split('\n').at(-1)!)).toMatchObject({ verified: false });
    const broken = await cli();
    expect(broken.code).toBe(1);
    expect(broken.err).toContain('BROKEN');
  });

  it('roles and close are for the commander or an admin: refusals are ephemeral and audited; close lists a host still locked down', async () => {
    const w = await start();
    await openIncident(w, newChannel(), 'incident open "Credential stuffing" --commander U0APPROVE1');
    const channel = incidentChannel();
    const said = () => shared.slack.messages(channel.id).filter((m) => !m.ephemeralFor);
    const before = said().length;

    // A responder who is not the commander.
    const { responseUrl: roleUrl } = await slash(
      shared,
      w.url,
      USERS.requester,
      channel.id,
      `incident role <@${USERS.approver2}> scribe`,
    );
    expect(await waitForResponse(shared, roleUrl)).toContain('You may not change roles in INC-1');
    const { responseUrl: closeUrl } = await slash(
      shared,
      w.url,
      USERS.requester,
      channel.id,
      'incident close --summary "done"',
    );
    expect(await waitForResponse(shared, closeUrl)).toContain('You may not close INC-1');
    expect(said()).toHaveLength(before);
    const refused = (await auditEvents(shared)).filter((e) => e.type === 'incident.refused');
    expect(refused.map((e) => [e.actor, e.details?.['action'], e.incident])).toEqual([
      [USERS.requester, 'role', 'INC-1'],
      [USERS.requester, 'close', 'INC-1'],
    ]);
    // Someone without any incident role.
    const { responseUrl: outsider } = await slash(
      shared,
      w.url,
      USERS.outsider,
      channel.id,
      'incident note "hi"',
    );
    expect(await waitForResponse(shared, outsider)).toContain('You may not run `incident`');

    // The commander assigns a scribe and sets the status.
    await slash(shared, w.url, USERS.approver1, channel.id, `incident role <@${USERS.approver2}> scribe`);
    await waitFor('the role message', () =>
      shared.slack.messages(channel.id).find((m) => (m.text ?? '').includes('is now scribe')),
    );

    // A lockdown from this incident: ward's host state says web1 is locked, and the audit log says it was ours.
    await shared.client.set(
      'ward:host:web1:state',
      JSON.stringify({
        status: 'locked',
        since: Date.now(),
        by: USERS.requester,
        requestId: 'r-lock01',
        managementCidrs: [],
      }),
    );
    await shared.client.set('ward:incident:request:r-lock01', 'INC-1');
    await w.handle.services.audit.record({
      type: 'host.locked_down',
      requestId: 'r-lock01',
      hosts: ['web1'],
    });
    const incident = await waitFor('time to contain', async () => {
      const i = JSON.parse((await shared.client.get('ward:incident:INC-1'))!) as {
        times: { firstContainment?: number };
      };
      return i.times.firstContainment === undefined ? undefined : i;
    });
    expect(incident.times.firstContainment).toBeTypeOf('number');
    expect(
      await metricValue(w.handle.url, 'ward_incident_time_to_contain_seconds_count', {}),
    ).toBeGreaterThanOrEqual(1);

    await slash(
      shared,
      w.url,
      USERS.approver1,
      channel.id,
      'incident close --summary "Blocked the botnet; rotated passwords" --archive',
    );
    const report = await waitFor('the report', () =>
      shared.slack.files().find((f) => f.name === 'INC-1-report-draft.md'),
    );
    const md = report.bytes.toString();
    const top = md.split('## Summary')[0]!;
    expect(top).toContain('Containment still in place');
    expect(top).toContain('Host **web1** is still locked down');
    expect(top).toContain('from this incident');
    expect(md).toContain('Blocked the botnet; rotated passwords');
    expect(md).toContain('## Impact (fill in)');
    await waitFor('the channel archived', () => (incidentChannel().is_archived ? true : undefined));
    const closed = JSON.parse((await shared.client.get('ward:incident:INC-1'))!) as { status: string };
    expect(closed.status).toBe('resolved');
    expect(responses(shared, closeUrl)).toHaveLength(1);
  });
});
