import { readBlocked, readHostState } from '../actions/host-state.js';
import { type AuditKey, deriveAuditKey } from '../audit/chain.js';
import { type QuarantineRecord, quarantineKey } from '../cloud/record.js';
import type { Config } from '../config/env.js';
import type { PolicyEngine } from '../core/policy-engine.js';
import { PermissionDeniedError, UserInputError } from '../errors.js';
import { incidentTimeToContainSeconds, incidentTimeToResolveSeconds } from '../metrics.js';
import type { AuditEvent, AuditLog } from '../ports/audit.js';
import type { ChatClient, ChatMessage } from '../ports/chat.js';
import { ChatPlatformError } from '../ports/chat.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { Store } from '../ports/store.js';
import { esc, mention } from '../render/blocks.js';
import { clockTime } from '../render/time.js';
import {
  channelName,
  checkText,
  type Incident,
  type IncidentRole,
  type IncidentSeverity,
  type IncidentStatus,
  IncidentStore,
  incidentAlertKey,
  incidentChannelKey,
  type LinkedAlert,
  type OpenProgress,
  TEXT_MAX,
  TITLE_MAX,
} from './incident.js';
import { isContainment } from './incident-audit.js';
import {
  formatDuration,
  renderAnnouncement,
  renderCard,
  renderIncidentHeader,
  renderOpenFailure,
} from './render.js';
import { buildReport } from './report.js';
import { describeEntry, readTimeline, timelineJsonl, timelineMarkdown, verdictLine } from './timeline.js';

export interface OpenRequest {
  requester: string;
  title: string;
  severity: IncidentSeverity;
  commander?: string | undefined;
  originChannel: string;
  alert?: LinkedAlert | undefined;
}

export interface OpenOutcome {
  incident: Incident;
  /** false: opening stopped part-way (the failure is in `incident.open.failure` and was reported). */
  complete: boolean;
  /** true: nothing new was opened; this incident already existed (same alert, or a resume). */
  existing: boolean;
}

/** How long one open (or resume) may hold an incident's opening lock: two clicks never create two channels. */
const OPENING_LOCK_MS = 60_000;

/**
 * Incidents: a channel per incident, roles, a timeline that is the hash-chained audit log, and a report. Every
 * change is an `incident.*` audit entry carrying the incident id; the channel → incident mapping lets everything
 * else done in the channel be attached (src/incidents/incident-audit.ts).
 */
/**
 * What incidents use: ports and the policy's role checks. Deliberately narrower than Services, so that commands
 * (which see the incident service through CommandServices) and the service do not import each other.
 */
export interface IncidentDeps {
  config: Config;
  log: Logger;
  store: Store;
  chat: ChatClient;
  clock: Clock;
  audit: AuditLog;
  policy: Pick<PolicyEngine, 'actionRoles' | 'holdsAny'>;
}

/** How incidents answer the person who asked (a Replier's private half). */
export interface PrivateReply {
  ephemeral(message: ChatMessage): Promise<void>;
}

export class IncidentService {
  readonly store: IncidentStore;

  constructor(
    private readonly services: () => IncidentDeps,
    private readonly botUserId: () => Promise<string>,
  ) {
    this.store = new IncidentStore(() => this.services().store);
  }

  /** The audit chain's key (derived from WARD_ENCRYPTION_KEY as the audit log derives it), to verify MACs. */
  private auditKey(): AuditKey {
    return deriveAuditKey(this.s.config.WARD_ENCRYPTION_KEY);
  }

  private get s(): IncidentDeps {
    return this.services();
  }

  async require(id: string): Promise<Incident> {
    const incident = await this.store.get(id);
    if (!incident) throw new UserInputError(`There is no incident \`${id}\`.`);
    return incident;
  }

  /** The incident of a channel, or a UserInputError saying how to name one. */
  async ofChannel(channel: string): Promise<Incident> {
    const id = await this.store.byChannel(channel);
    if (!id) {
      throw new UserInputError(
        'This is not an incident channel: run this in the channel of an incident (`/ward incident open "title"` makes one).',
      );
    }
    return this.require(id);
  }

  private audit(incident: Incident, event: Omit<AuditEvent, 'incident'>): Promise<void> {
    return this.s.audit.record({ ...event, incident: incident.id });
  }

  // ---- open -------------------------------------------------------------------------------------------------

  async open(request: OpenRequest): Promise<OpenOutcome> {
    const title = checkText('title', request.title, TITLE_MAX);
    const now = this.s.clock.now();
    const incident = await this.store.create((id, n) => ({
      id,
      n,
      title,
      severity: request.severity,
      status: 'investigating',
      requester: request.requester,
      roles: { commander: request.commander ?? request.requester },
      originChannel: request.originChannel,
      ...(request.alert ? { alert: request.alert } : {}),
      open: {},
      times: {
        detected: Math.min(request.alert?.firstSeenMs ?? now, now),
        acknowledged: now,
      },
    }));
    await this.audit(incident, {
      type: 'incident.opened',
      actor: request.requester,
      details: {
        title,
        severity: incident.severity,
        commander: incident.roles.commander,
        ...(request.alert ? { fingerprint: request.alert.fingerprint } : {}),
      },
    });
    if (request.alert) {
      await this.audit(incident, {
        type: 'incident.alert_linked',
        actor: request.requester,
        details: { fingerprint: request.alert.fingerprint, title: request.alert.title },
      });
    }
    return this.advance(incident.id, { existing: false });
  }

  /**
   * Opens an incident for an alert, at most once per fingerprint: the first claim wins (SET NX) and every later
   * click, or the same alert arriving again, finds that incident (and resumes it if opening stopped part-way).
   */
  async openFromAlert(request: OpenRequest & { alert: LinkedAlert }): Promise<OpenOutcome> {
    const key = incidentAlertKey(request.alert.fingerprint);
    const claim = `claim:${request.requester}:${this.s.clock.now()}`;
    if (!(await this.s.store.setIfAbsent(key, claim))) {
      const current = await this.s.store.get(key);
      if (current?.startsWith('INC-')) {
        const incident = await this.require(current);
        if (incident.open.failure !== undefined || !incident.open.announced) {
          return this.advance(current, { existing: true });
        }
        return { incident, complete: true, existing: true };
      }
      throw new UserInputError(
        'An incident for this alert is being opened right now; it will be announced here.',
      );
    }
    try {
      const outcome = await this.open(request);
      await this.s.store.set(key, outcome.incident.id);
      return outcome;
    } catch (err) {
      // Nothing was allocated: let the next click try again.
      if ((await this.s.store.get(key)) === claim) await this.s.store.del(key);
      throw err;
    }
  }

  /** Finishes opening an incident that stopped part-way (said as "is open", not as a duplicate). */
  async resume(id: string): Promise<OpenOutcome> {
    await this.require(id);
    return this.advance(id, { existing: false });
  }

  /** Carries out the opening steps not done yet, recording each as done; stops at the first Slack refusal. */
  private async advance(id: string, o: { existing: boolean }): Promise<OpenOutcome> {
    const lock = `ward:incident:opening:${id}`;
    if (!(await this.s.store.setIfAbsent(lock, '1', OPENING_LOCK_MS))) {
      throw new UserInputError(`${id} is being opened right now; try again in a moment.`);
    }
    try {
      let incident = await this.require(id);
      let step: keyof OpenProgress = 'channel';
      const save = async (change: (p: OpenProgress) => void) => {
        incident = await this.store.update(id, (i) => change(i.open));
      };
      try {
        const { config, chat } = this.s;
        if (!incident.open.channel) {
          step = 'channel';
          const name = channelName(incident.n, incident.title, incident.open.nameTaken ?? 0);
          let created: { id: string; name: string };
          try {
            created = await chat.createChannel(name, { isPrivate: config.WARD_INCIDENT_PRIVATE === '1' });
          } catch (err) {
            // The next attempt takes another name (inc-3-title-2): the taken one may be someone else's channel.
            if (err instanceof ChatPlatformError && err.slackError === 'name_taken') {
              await save((p) => {
                p.nameTaken = (p.nameTaken ?? 0) + 1;
              });
            }
            throw err;
          }
          await this.s.store.set(incidentChannelKey(created.id), id);
          await save((p) => {
            p.channel = created;
          });
          await this.audit(incident, {
            type: 'incident.channel_created',
            details: { channel: created.id, name: created.name },
          });
        }
        const channel = incident.open.channel!.id;
        if (!incident.open.invited) {
          step = 'invited';
          await chat.invite(channel, await this.invitees(incident));
          await save((p) => {
            p.invited = true;
          });
        }
        if (!incident.open.headerTs) {
          step = 'headerTs';
          const posted = await chat.postMessage(channel, renderIncidentHeader(incident));
          await save((p) => {
            p.headerTs = posted.ts;
          });
        }
        if (!incident.open.pinned) {
          step = 'pinned';
          await chat.pin(channel, incident.open.headerTs!);
          await save((p) => {
            p.pinned = true;
          });
        }
        if (!incident.open.announced) {
          step = 'announced';
          if (incident.originChannel !== '' && incident.originChannel !== channel) {
            const where = incident.alert?.ts ? { threadTs: incident.alert.ts } : {};
            await chat.postMessage(incident.originChannel, renderAnnouncement(incident), where);
          }
          await save((p) => {
            p.announced = true;
          });
        }
        const broadcast = config.WARD_INCIDENT_BROADCAST_CHANNEL;
        if (!incident.open.broadcast && broadcast !== undefined && broadcast !== incident.originChannel) {
          step = 'broadcast';
          await chat.postMessage(broadcast, renderAnnouncement(incident));
          await save((p) => {
            p.broadcast = true;
          });
        }
        if (incident.open.failure) {
          await save((p) => {
            p.failure = undefined;
          });
          await this.audit(incident, { type: 'incident.open_step', outcome: 'resumed' });
        }
        return { incident, complete: true, existing: o.existing };
      } catch (err) {
        if (!(err instanceof ChatPlatformError)) throw err;
        const failedStep = step;
        await save((p) => {
          p.failure = { step: failedStep, error: err.slackError, at: this.s.clock.now() };
        });
        await this.audit(incident, {
          type: 'incident.open_step',
          outcome: err.slackError,
          details: { step: failedStep, method: err.method },
        });
        this.s.log.warn(
          { incident: id, step: failedStep, error: err.slackError },
          'opening an incident stopped',
        );
        return { incident, complete: false, existing: o.existing };
      }
    } finally {
      await this.s.store.del(lock).catch(() => {});
    }
  }

  /** The requester, the commander and WARD_INCIDENT_RESPONDERS (user groups expanded), never ward itself. */
  private async invitees(incident: Incident): Promise<string[]> {
    const users = new Set<string>([incident.requester]);
    if (incident.roles.commander) users.add(incident.roles.commander);
    for (const p of (this.s.config.WARD_INCIDENT_RESPONDERS ?? '').split(',').map((x) => x.trim())) {
      if (p === '') continue;
      if (p.startsWith('S')) for (const u of await this.s.chat.usergroupMembers(p)) users.add(u);
      else users.add(p);
    }
    const bot = await this.botUserId().catch(() => undefined);
    if (bot !== undefined) users.delete(bot);
    return [...users];
  }

  /** What opening said: the announcement already went out; the requester is told where, or what failed. */
  async reportOpen(outcome: OpenOutcome, reply: PrivateReply): Promise<void> {
    const { incident } = outcome;
    if (!outcome.complete) {
      await reply.ephemeral(
        renderOpenFailure(incident, this.s.config.WARD_INCIDENT_BROADCAST_CHANNEL !== undefined),
      );
      return;
    }
    const where = incident.open.channel ? `<#${incident.open.channel.id}>` : '';
    await reply.ephemeral({
      text: outcome.existing
        ? `${incident.id} (${esc(incident.title)}) is already open: ${where}. Nothing new was opened.`
        : `:white_check_mark: ${incident.id} is open: ${where}.`,
    });
  }

  // ---- work in it -------------------------------------------------------------------------------------------

  /** Who holds a role in the policy's per-action terms: the `commander` pseudo-role is this incident's commander. */
  async authorizeAction(user: string, action: string, incident: Incident): Promise<void> {
    const allowed = this.s.policy.actionRoles('incident', action);
    if (allowed === undefined) return;
    if (allowed.includes('commander') && incident.roles.commander === user) return;
    const others = allowed.filter((r) => r !== 'commander');
    if (others.length > 0 && (await this.s.policy.holdsAny(user, others))) return;
    await this.audit(incident, {
      type: 'incident.refused',
      actor: user,
      command: 'incident',
      outcome: 'ward_permission_denied',
      details: { action },
    });
    throw new PermissionDeniedError(
      `You may not ${action === 'role' ? 'change roles in' : action} ${incident.id}: that is for ${allowed.map((r) => (r === 'commander' ? "the incident's commander" : `*${r}*`)).join(', ')}.`,
    );
  }

  async note(
    incident: Incident,
    user: string,
    text: string,
    from?: { author?: string | undefined; permalink?: string | undefined; messageTs?: string | undefined },
  ): Promise<void> {
    const clean = checkText('note', text, TEXT_MAX);
    await this.audit(incident, {
      type: 'incident.note',
      actor: user,
      details: {
        text: clean,
        ...(from?.author ? { author: from.author } : {}),
        ...(from?.permalink ? { permalink: from.permalink } : {}),
        ...(from?.messageTs ? { messageTs: from.messageTs } : {}),
      },
    });
  }

  async setRole(incident: Incident, actor: string, user: string, role: IncidentRole): Promise<Incident> {
    await this.authorizeAction(actor, 'role', incident);
    const updated = await this.store.update(incident.id, (i) => {
      i.roles[role] = user;
    });
    await this.audit(incident, { type: 'incident.role', actor, details: { role, user } });
    await this.refreshHeader(updated);
    if (updated.open.channel) await this.s.chat.invite(updated.open.channel.id, [user]).catch(() => {});
    return updated;
  }

  async setSeverity(incident: Incident, actor: string, severity: IncidentSeverity): Promise<Incident> {
    await this.authorizeAction(actor, 'severity', incident);
    const updated = await this.store.update(incident.id, (i) => {
      i.severity = severity;
    });
    await this.audit(incident, {
      type: 'incident.severity',
      actor,
      details: { from: incident.severity, to: severity },
    });
    await this.refreshHeader(updated);
    return updated;
  }

  async setStatus(incident: Incident, actor: string, status: IncidentStatus): Promise<Incident> {
    await this.authorizeAction(actor, status === 'resolved' ? 'close' : 'status', incident);
    const now = this.s.clock.now();
    const updated = await this.store.update(incident.id, (i) => {
      i.status = status;
      if (status === 'resolved') i.times.resolved ??= now;
      else i.times.resolved = undefined;
    });
    await this.audit(incident, {
      type: 'incident.status',
      actor,
      details: { from: incident.status, to: status },
    });
    if (status === 'resolved' && incident.times.resolved === undefined) {
      incidentTimeToResolveSeconds.observe((now - updated.times.detected) / 1000);
    }
    await this.refreshHeader(updated);
    return updated;
  }

  /** Posts an update in the incident channel and the broadcast channel; recorded on the timeline. */
  async update(incident: Incident, actor: string, text: string): Promise<void> {
    const clean = checkText('update', text, TEXT_MAX);
    const message = {
      text: `:loudspeaker: *${incident.id} update* (${incident.severity}, ${incident.status}) from ${mention(actor)}: ${esc(clean)}`,
    };
    await this.audit(incident, { type: 'incident.update', actor, details: { text: clean } });
    if (incident.open.channel) await this.s.chat.postMessage(incident.open.channel.id, message);
    const broadcast = this.s.config.WARD_INCIDENT_BROADCAST_CHANNEL;
    if (broadcast !== undefined) await this.s.chat.postMessage(broadcast, message);
  }

  private async refreshHeader(incident: Incident): Promise<void> {
    if (!incident.open.channel || !incident.open.headerTs) return;
    await this.s.chat
      .update(incident.open.channel.id, incident.open.headerTs, renderIncidentHeader(incident))
      .catch((err) =>
        this.s.log.warn({ err, incident: incident.id }, 'could not update the incident header'),
      );
  }

  /** Called for every audit entry attached to an incident: the first containment sets the time to contain. */
  async onAttached(incidentId: string, event: AuditEvent): Promise<void> {
    if (!isContainment(event)) return;
    const now = this.s.clock.now();
    let first = false;
    const incident = await this.store.update(incidentId, (i) => {
      first = i.times.firstContainment === undefined;
      i.times.firstContainment ??= now;
    });
    if (!first) return;
    const seconds = (now - incident.times.detected) / 1000;
    incidentTimeToContainSeconds.observe(seconds);
    await this.s.audit.record({
      type: 'incident.contained',
      incident: incidentId,
      details: { by: event.type, hosts: event.hosts ?? [], timeToContainSeconds: Math.round(seconds) },
    });
  }

  // ---- read ---------------------------------------------------------------------------------------------------

  async card(incident: Incident) {
    const timeline = await readTimeline(this.s.store, incident.id, this.auditKey());
    const requested = new Map<string, boolean>();
    let evidence = 0;
    for (const e of timeline.entries) {
      const ev = e.event;
      if (ev.type === 'approval.requested' && ev.requestId) requested.set(ev.requestId, true);
      if (
        ev.requestId &&
        [
          'approval.denied',
          'approval.expired',
          'approval.cancelled',
          'execution.finished',
          'execution.refused',
          'execution.interrupted',
        ].includes(ev.type)
      ) {
        requested.set(ev.requestId, false);
      }
      if (ev.type === 'artifact.collected') evidence++;
    }
    const contained = await this.containmentInPlace(incident);
    return renderCard(incident, {
      openRequests: [...requested].filter(([, open]) => open).map(([id]) => id),
      hostsContained: contained.hosts.map((h) => h.host),
      evidence,
      now: this.s.clock.now(),
    });
  }

  /** Hosts locked down now, IPs blocked during the incident, instances in quarantine now: from ward's own state. */
  async containmentInPlace(incident: Incident): Promise<{
    hosts: Array<{ host: string; since: number; requestId: string; inIncident: boolean }>;
    ips: Array<{ host: string; address: string }>;
    instances: Array<{ instanceId: string; requestId: string; inIncident: boolean }>;
  }> {
    const timeline = await readTimeline(this.s.store, incident.id, this.auditKey());
    const requests = new Set(timeline.entries.map((e) => e.event.requestId).filter((r): r is string => !!r));
    const hosts: Array<{ host: string; since: number; requestId: string; inIncident: boolean }> = [];
    for (const key of await this.s.store.keys('ward:host:')) {
      const m = /^ward:host:(.+):state$/.exec(key);
      if (!m) continue;
      const state = await readHostState(this.s.store, m[1]!);
      if (state?.status === 'locked') {
        hosts.push({
          host: m[1]!,
          since: state.since,
          requestId: state.requestId,
          inIncident: requests.has(state.requestId),
        });
      }
    }
    // Blocked during the incident and still held by ward (an unblock-ip since then takes it off the list).
    const blocked = timeline.entries
      .filter((e) => e.event.type === 'host.ip_blocked')
      .flatMap((e) =>
        (e.event.hosts ?? []).map((host) => ({ host, address: String(e.event.details?.['address'] ?? '?') })),
      );
    const ips: typeof blocked = [];
    for (const b of blocked) {
      if ((await readBlocked(this.s.store, b.host))[b.address] !== undefined) ips.push(b);
    }
    const instances: Array<{ instanceId: string; requestId: string; inIncident: boolean }> = [];
    for (const key of await this.s.store.keys(quarantineKey(''))) {
      const raw = await this.s.store.get(key);
      if (!raw) continue;
      try {
        const r = JSON.parse(raw) as QuarantineRecord;
        instances.push({
          instanceId: r.instanceId,
          requestId: r.requestId,
          inIncident: requests.has(r.requestId),
        });
      } catch {
        // Not a record ward can read; `/ward hosts` and the cloud commands say more.
      }
    }
    return { hosts, ips, instances };
  }

  async timelineMessage(incident: Incident, limit = 15) {
    const t = await readTimeline(this.s.store, incident.id, this.auditKey());
    const last = t.entries.slice(-limit);
    const now = this.s.clock.now();
    const lines = last.map(
      (e) =>
        `${Number.isNaN(Date.parse(e.at)) ? esc(e.at) : clockTime(Date.parse(e.at), now)} · #${e.seq} ${e.event.actor ? `${mention(e.event.actor)} ` : ''}${esc(describeEntry(e.event))}`,
    );
    return {
      text: `${incident.id} timeline (last ${last.length} of ${t.entries.length})\n${lines.join('\n') || '(empty)'}\n_${esc(verdictLine(t))}_`,
    };
  }

  async export(incident: Incident, actor: string, channel: string): Promise<{ verified: boolean | null }> {
    const t = await readTimeline(this.s.store, incident.id, this.auditKey());
    const target = incident.open.channel?.id ?? channel;
    await this.s.chat.uploadFile({
      channel: target,
      filename: `${incident.id}-timeline.md`,
      content: timelineMarkdown(incident.id, incident.title, t),
    });
    await this.s.chat.uploadFile({
      channel: target,
      filename: `${incident.id}-timeline.jsonl`,
      content: timelineJsonl(incident.id, t),
      initialComment: `${incident.id} timeline: ${t.entries.length} entries. ${verdictLine(t)}`,
    });
    await this.audit(incident, {
      type: 'incident.exported',
      actor,
      details: { entries: t.entries.length, verified: t.verdict?.ok ?? null, range: t.range },
    });
    return { verified: t.verdict?.ok ?? null };
  }

  async close(
    incident: Incident,
    actor: string,
    summary: string,
    options: { archive: boolean; channel: string },
  ): Promise<Incident> {
    await this.authorizeAction(actor, 'close', incident);
    const clean = checkText('summary', summary, TEXT_MAX);
    const wasResolved = incident.times.resolved !== undefined;
    const now = this.s.clock.now();
    const updated = await this.store.update(incident.id, (i) => {
      i.status = 'resolved';
      i.summary = clean;
      i.times.resolved ??= now;
    });
    await this.audit(incident, {
      type: 'incident.closed',
      actor,
      details: { summary: clean, archive: options.archive },
    });
    if (!wasResolved) incidentTimeToResolveSeconds.observe((now - updated.times.detected) / 1000);
    await this.refreshHeader(updated);
    const [timeline, containment] = await Promise.all([
      readTimeline(this.s.store, incident.id, this.auditKey()),
      this.containmentInPlace(updated),
    ]);
    const report = buildReport(updated, timeline, containment);
    const target = updated.open.channel?.id ?? options.channel;
    await this.s.chat.uploadFile({
      channel: target,
      filename: `${incident.id}-report-draft.md`,
      content: report,
      initialComment: `${incident.id} resolved. Post-incident report draft attached${containment.hosts.length + containment.instances.length + containment.ips.length > 0 ? ': :warning: containment is still in place, see the top of the report' : ''}.`,
    });
    const broadcast = this.s.config.WARD_INCIDENT_BROADCAST_CHANNEL;
    if (broadcast !== undefined) {
      await this.s.chat
        .postMessage(broadcast, { text: `:white_check_mark: ${incident.id} resolved: ${esc(clean)}` })
        .catch(() => {});
    }
    if (options.archive && updated.open.channel) {
      await this.s.chat.archive(updated.open.channel.id);
      return this.store.update(incident.id, (i) => {
        i.archived = true;
      });
    }
    return updated;
  }

  /** Count, median and p90 time to contain over the last 30 days. */
  async stats(): Promise<string> {
    const since = this.s.clock.now() - 30 * 24 * 3600_000;
    const incidents: Incident[] = [];
    for (const id of await this.store.all()) {
      const i = await this.store.get(id);
      if (i && i.times.acknowledged >= since) incidents.push(i);
    }
    const ttc = incidents
      .filter((i) => i.times.firstContainment !== undefined)
      .map((i) => i.times.firstContainment! - i.times.detected)
      .sort((a, b) => a - b);
    const ttr = incidents
      .filter((i) => i.times.resolved !== undefined)
      .map((i) => i.times.resolved! - i.times.detected)
      .sort((a, b) => a - b);
    const q = (xs: number[], p: number) =>
      xs.length === 0 ? undefined : xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];
    return [
      `*Incidents, last 30 days*: ${incidents.length} (${incidents.filter((i) => i.status !== 'resolved').length} still open)`,
      `Time to contain: median ${formatDuration(q(ttc, 0.5))}, p90 ${formatDuration(q(ttc, 0.9))} (${ttc.length} contained)`,
      `Time to resolve: median ${formatDuration(q(ttr, 0.5))}, p90 ${formatDuration(q(ttr, 0.9))} (${ttr.length} resolved)`,
    ].join('\n');
  }
}
