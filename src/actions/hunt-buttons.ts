import type { CommandServices } from '../core/command.js';
import { newCorrelationId } from '../core/ids.js';
import { replierFor } from '../core/requests/replier.js';
import { UserInputError } from '../errors.js';
import { HUNT_ACTIONS, type HuntButtonValue, renderPortModal } from '../render/hunt.js';
import type { ActionEvent, InteractionRouter, ViewEvent, ViewResult } from '../slack/interactions.js';
import { type HuntRecord, huntKey } from './hunt-run.js';
import { parsePortSpec, portText } from './ports.js';

const HUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

function huntIdFrom(value: string): string {
  let v: Partial<HuntButtonValue> | undefined;
  try {
    v = JSON.parse(value) as Partial<HuntButtonValue>;
  } catch {
    v = undefined;
  }
  if (typeof v?.hunt !== 'string' || !HUNT_ID.test(v.hunt)) {
    throw new UserInputError('That hunt button is malformed, so nothing was requested.');
  }
  return v.hunt;
}

async function loadHunt(services: CommandServices, id: string): Promise<HuntRecord> {
  const raw = await services.store.get(huntKey(id));
  if (raw === null) {
    throw new UserInputError(
      `Hunt ${id} is no longer known to ward (its record expires after 7 days); run the hunt again.`,
    );
  }
  return JSON.parse(raw) as HuntRecord;
}

/** Why the request was opened, safe inside `--reason "…"` (indicators never contain quotes or backslashes). */
function huntReason(record: HuntRecord, what: string): string {
  const indicators = record.indicators.join(' ');
  const text = `hunt ${record.id} ${what}: ${indicators}`;
  return text.length <= 400 ? text : `${text.slice(0, 399)}…`;
}

/**
 * Opens a request as if the person had typed `/ward <text>` (services.requests.openAs: the one pipeline): their
 * roles, the command's approvals and MFA apply unchanged. A hunt's buttons never run anything themselves.
 */
async function openRequest(
  services: CommandServices,
  from: {
    user: string;
    channel: string;
    threadTs: string;
    triggerId?: string;
    responseUrl?: string;
    requestId: string;
  },
  text: string,
): Promise<void> {
  services.log.info({ requestId: from.requestId, user: from.user, text }, 'hunt: opening a request');
  await services.requests.openAs({
    user: from.user,
    text,
    channel: from.channel,
    threadTs: from.threadTs,
    triggerId: from.triggerId,
    responseUrl: from.responseUrl,
    correlationId: from.requestId,
  });
}

function answerEphemeral(services: CommandServices, event: ActionEvent, text: string): Promise<void> {
  return replierFor(services.chat, {
    person: event.user,
    channel: event.channel ?? '',
    responseUrl: event.responseUrl,
    threadTs: event.threadTs ?? event.messageTs,
  }).ephemeral({ text });
}

/**
 * The buttons under a hunt's summary: each opens ONE request for exactly the hunt's hit hosts (a host list, one
 * plan, one approval), or opens a modal that asks for the port first.
 */
export function registerHuntButtons(router: InteractionRouter, deps: () => CommandServices): void {
  router.onAction('hunt.', async (event) => {
    const services = deps();
    try {
      const record = await loadHunt(services, huntIdFrom(event.value));
      const from = {
        user: event.user,
        channel: record.channel,
        threadTs: record.threadTs,
        triggerId: event.triggerId,
        ...(event.responseUrl !== undefined ? { responseUrl: event.responseUrl } : {}),
        requestId: event.requestId,
      };
      const hits = record.hits.join(',');
      switch (event.actionId) {
        case HUNT_ACTIONS.forensics:
        case HUNT_ACTIONS.lockdown: {
          if (record.hits.length === 0) throw new UserInputError(`Hunt ${record.id} found no hits.`);
          const command = event.actionId === HUNT_ACTIONS.forensics ? 'forensics' : 'lockdown';
          await openRequest(services, from, `${command} ${hits} --reason "${huntReason(record, 'hits')}"`);
          return;
        }
        case HUNT_ACTIONS.quarantine: {
          if (record.cloudHits.length === 0)
            throw new UserInputError(`Hunt ${record.id} has no cloud hosts among its hits.`);
          // quarantine takes one instance per request: one request per cloud hit.
          for (const host of record.cloudHits) {
            await openRequest(
              services,
              { ...from, requestId: newCorrelationId() },
              `quarantine ${host} --reason "${huntReason(record, 'hits')}"`,
            );
          }
          return;
        }
        case HUNT_ACTIONS.blockPort:
        case HUNT_ACTIONS.unblockPort: {
          const block = event.actionId === HUNT_ACTIONS.blockPort;
          const hosts = block ? record.hits : record.clean;
          if (hosts.length === 0)
            throw new UserInputError(`Hunt ${record.id} has no ${block ? 'hit' : 'clean'} hosts.`);
          await services.chat.openView(
            event.triggerId,
            renderPortModal(block ? 'block' : 'unblock', record.id, hosts),
          );
          return;
        }
        default:
          throw new UserInputError('That hunt button is not one ward knows.');
      }
    } catch (err) {
      if (!(err instanceof UserInputError)) throw err;
      await answerEphemeral(services, event, `:warning: ${err.userMessage}`);
    }
  });

  const onPortView =
    (block: boolean) =>
    async (event: ViewEvent): Promise<ViewResult> => {
      const id = huntIdFrom(event.privateMetadata);
      const portValue = (event.values['port']?.['value'] ?? '').trim();
      const reason = (event.values['reason']?.['value'] ?? '')
        .replace(/["\\\u201c\u201d\u0000-\u001f]/g, ' ')
        .trim();
      let port: string;
      try {
        port = portText(parsePortSpec(portValue));
      } catch (err) {
        return { errors: { port: err instanceof UserInputError ? err.userMessage : 'not a port' } };
      }
      if (reason === '')
        return { errors: { reason: 'Say why (it goes into the request and the audit log).' } };
      const services = deps();
      let record: HuntRecord;
      try {
        record = await loadHunt(services, id);
      } catch (err) {
        return { errors: { port: err instanceof UserInputError ? err.userMessage : 'unknown hunt' } };
      }
      const hosts = (block ? record.hits : record.clean).join(',');
      const command = block ? 'block-port' : 'unblock-port';
      await openRequest(
        services,
        { user: event.user, channel: record.channel, threadTs: record.threadTs, requestId: event.requestId },
        `${command} ${hosts} ${port} --reason "${reason.slice(0, 300)} (hunt ${record.id})"`,
      );
      return undefined;
    };
  router.onView(HUNT_ACTIONS.blockPort, onPortView(true));
  router.onView(HUNT_ACTIONS.unblockPort, onPortView(false));
}

/**
 * `hunt … --then-unblock-port <port>`: after the hunt, one unblock-port request (as the hunt's requester, through
 * the normal policy) for the hosts the hunt found clean; hit, partial and failed hosts stay closed.
 */
export async function openUnblockAfterHunt(
  services: CommandServices,
  record: HuntRecord,
  portValue: string,
): Promise<void> {
  const port = portText(parsePortSpec(portValue));
  if (record.clean.length === 0) {
    await services.chat.postMessage(
      record.channel,
      { text: `:information_source: No host was found clean, so ${port} stays closed everywhere.` },
      { threadTs: record.threadTs },
    );
    return;
  }
  await openRequest(
    services,
    {
      user: record.requester,
      channel: record.channel,
      threadTs: record.threadTs,
      requestId: newCorrelationId(),
    },
    `unblock-port ${record.clean.join(',')} ${port} --reason "${huntReason(record, 'found these hosts clean')}"`,
  );
}
