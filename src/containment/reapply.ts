import { parsePortSpec, portText } from '../actions/ports.js';
import { SafeValue } from '../adapters/ssh/shell-quote.js';
import { isInstanceId } from '../cloud/target.js';
import { HOST_NAME_PATTERN } from '../config/inventory.js';
import type { Services } from '../core/services.js';
import { UserInputError } from '../errors.js';
import type { InteractionRouter } from '../slack/interactions.js';
import type { Reapply } from './checks.js';

/** The button's value, read back strictly: only ward's own shapes, only validated names and addresses. */
export function parseReapply(value: string): Reapply {
  try {
    return readReapply(value);
  } catch {
    // An address or port that does not validate is a forged or corrupted button, like any other bad shape.
    throw new UserInputError('That Re-apply button is malformed, so nothing was requested.');
  }
}

function readReapply(value: string): Reapply {
  let v: Partial<Record<string, unknown>> | undefined;
  try {
    v = JSON.parse(value) as Partial<Record<string, unknown>>;
  } catch {
    v = undefined;
  }
  const host = typeof v?.['host'] === 'string' && HOST_NAME_PATTERN.test(v['host']) ? v['host'] : undefined;
  if (v?.['command'] === 'lockdown' && host) return { command: 'lockdown', host };
  if (v?.['command'] === 'block-ip' && host && typeof v['address'] === 'string') {
    return { command: 'block-ip', host, address: SafeValue.ipOrCidr(v['address']) };
  }
  if (v?.['command'] === 'block-port' && host && typeof v['port'] === 'string') {
    return { command: 'block-port', host, port: portText(parsePortSpec(v['port'])) };
  }
  const target = v?.['target'];
  if (
    v?.['command'] === 'quarantine' &&
    typeof target === 'string' &&
    (HOST_NAME_PATTERN.test(target) || isInstanceId(target))
  ) {
    return { command: 'quarantine', target };
  }
  throw new UserInputError('That Re-apply button is malformed, so nothing was requested.');
}

/** `/ward …` text of a re-apply: the same command as the original, with a reason that says why. */
export function reapplyText(r: Reapply): string {
  const reason = '--reason "re-apply after containment drift reported by ward"';
  switch (r.command) {
    case 'lockdown':
      return `lockdown ${r.host} ${reason}`;
    case 'block-ip':
      return `block-ip ${r.host} ${r.address} ${reason}`;
    case 'block-port':
      return `block-port ${r.host} ${r.port} ${reason}`;
    case 'quarantine':
      return `quarantine ${r.target} ${reason}`;
  }
}

/**
 * `containment.reapply`: a click asks for the containment again as a new request from the person who clicked,
 * through the same entry as a typed `/ward` command and an alert's suggested action: their roles, the command's
 * approvals and MFA apply unchanged. ward never re-applies by itself.
 */
export function registerReapplyButton(router: InteractionRouter, deps: () => Services): void {
  router.onAction('containment.', async (event) => {
    if (event.actionId !== 'containment.reapply') return;
    const services = deps();
    const reapply = parseReapply(event.value);
    services.log.info({ user: event.user, reapply }, 'containment drift: re-apply asked for');
    // The one pipeline, as the person who clicked (the Slack listener already dropped redeliveries of this click).
    await services.requests.openAs({
      user: event.user,
      text: reapplyText(reapply),
      channel: event.channel ?? '',
      threadTs: event.threadTs ?? event.messageTs,
      triggerId: event.triggerId,
      responseUrl: event.responseUrl,
      correlationId: event.requestId,
    });
  });
}
