import { UserInputError } from '../errors.js';
import type { Store } from '../ports/store.js';

export const severities = ['sev1', 'sev2', 'sev3', 'sev4'] as const;
export type IncidentSeverity = (typeof severities)[number];
export const statuses = ['investigating', 'contained', 'monitoring', 'resolved'] as const;
export type IncidentStatus = (typeof statuses)[number];
export const roles = ['commander', 'scribe', 'comms'] as const;
export type IncidentRole = (typeof roles)[number];

/** Where opening an incident got to: each Slack step is done once, and a retry resumes after the last one done. */
export interface OpenProgress {
  channel?: { id: string; name: string } | undefined;
  /** How many names were refused as taken: the next attempt appends `-<n+1>`. */
  nameTaken?: number | undefined;
  invited?: boolean | undefined;
  headerTs?: string | undefined;
  pinned?: boolean | undefined;
  announced?: boolean | undefined;
  broadcast?: boolean | undefined;
  /** The last Slack refusal, shown to whoever retries. */
  failure?: { step: string; error: string; at: number } | undefined;
}

/** The alert an incident was opened from. */
export interface LinkedAlert {
  fingerprint: string;
  title: string;
  source?: string | undefined;
  severity?: string | undefined;
  host?: string | undefined;
  /** The alert's message (channel and ts), for a link back. */
  channel?: string | undefined;
  ts?: string | undefined;
  /** Epoch ms the alert was first seen: detection time. */
  firstSeenMs?: number | undefined;
}

/** `ward:incident:<id>`: one incident, as ward keeps it. Times are epoch ms. */
export interface Incident {
  id: string;
  n: number;
  title: string;
  severity: IncidentSeverity;
  status: IncidentStatus;
  requester: string;
  roles: Partial<Record<IncidentRole, string>>;
  /** Where it was opened: the announcement (and failure reports) go there. */
  originChannel: string;
  alert?: LinkedAlert | undefined;
  open: OpenProgress;
  times: {
    detected: number;
    acknowledged: number;
    firstContainment?: number | undefined;
    resolved?: number | undefined;
  };
  summary?: string | undefined;
  archived?: boolean | undefined;
}

export const incidentKey = (id: string): string => `ward:incident:${id}`;
/** INCR'd to allocate `INC-<n>`: two replicas never hand out the same number. */
export const INCIDENT_SEQ_KEY = 'ward:incident:seq';
/** Channel id → incident id: everything said and done in that channel belongs to the incident. */
export const incidentChannelKey = (channel: string): string => `ward:incident:channel:${channel}`;
/** Alert fingerprint → incident id: one alert never opens two incidents. */
export const incidentAlertKey = (fingerprint: string): string => `ward:incident:alert:${fingerprint}`;
/** Approval request (or Slack request) id → incident id, so that later entries about it are attached too. */
export const incidentRequestKey = (requestId: string): string => `ward:incident:request:${requestId}`;
/** Every incident id, oldest first (for stats). */
export const INCIDENT_INDEX_KEY = 'ward:incidents';

export const INCIDENT_ID_PATTERN = /^INC-[1-9][0-9]{0,8}$/;

export const TITLE_MAX = 120;
export const TEXT_MAX = 2000;

/**
 * Checks user text (titles, notes, updates, summaries) for length and emptiness. Escaping happens where it is
 * rendered (src/render/blocks.ts `esc`), so that `<!channel>` stays visible text and never pings.
 */
export function checkText(what: string, text: string | undefined, max: number): string {
  const t = (text ?? '').trim();
  if (t === '') throw new UserInputError(`The ${what} is empty: put it in quotes, e.g. "…".`);
  if (t.length > max) {
    throw new UserInputError(`The ${what} is ${t.length} characters long; keep it to ${max} or fewer.`);
  }
  return t;
}

/** `inc-<n>-<slug>`: lowercase letters, digits and dashes, within Slack's 80 characters. */
export function channelName(n: number, title: string, attempt = 0): string {
  const suffix = attempt > 0 ? `-${attempt + 1}` : '';
  const prefix = `inc-${n}-`;
  const slug = title
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80 - prefix.length - suffix.length)
    .replace(/-+$/g, '');
  return `${prefix}${slug || 'incident'}${suffix}`;
}

/** A Slack user id from `<@U123|name>`, `<@U123>`, `@U123` or `U123`; a UserInputError otherwise. */
export function parseUser(text: string, what: string): string {
  const m = /^<?@?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$/.exec(text.trim());
  if (!m) {
    throw new UserInputError(
      `${what}: \`${text.slice(0, 40).replace(/[<>`]/g, '')}\` is not a Slack user: mention them (@name, which Slack sends as <@U…>) or give their user id (U…).`,
    );
  }
  return m[1]!;
}

export class IncidentStore {
  constructor(private readonly store: () => Store) {}

  async get(id: string): Promise<Incident | undefined> {
    const raw = await this.store().get(incidentKey(id));
    return raw === null ? undefined : (JSON.parse(raw) as Incident);
  }

  async byChannel(channel: string): Promise<string | undefined> {
    if (channel === '') return undefined;
    return (await this.store().get(incidentChannelKey(channel))) ?? undefined;
  }

  /** Allocates the next number (INCR) and stores the new incident. */
  async create(fill: (id: string, n: number) => Incident): Promise<Incident> {
    const n = await this.store().incr(INCIDENT_SEQ_KEY);
    const incident = fill(`INC-${n}`, n);
    await this.store().set(incidentKey(incident.id), JSON.stringify(incident));
    await this.store().listPush(INCIDENT_INDEX_KEY, incident.id);
    return incident;
  }

  /** Read-modify-write with compare-and-set: two replicas (or two clicks) never lose each other's change. */
  async update(id: string, change: (i: Incident) => void): Promise<Incident> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const raw = await this.store().get(incidentKey(id));
      if (raw === null) throw new UserInputError(`There is no incident \`${id}\`.`);
      const incident = JSON.parse(raw) as Incident;
      change(incident);
      if (await this.store().compareAndSet(incidentKey(id), raw, JSON.stringify(incident))) return incident;
    }
    throw new Error(`incident ${id}: too much contention`);
  }

  async all(): Promise<string[]> {
    return this.store().listRange(INCIDENT_INDEX_KEY, 0, -1);
  }
}
