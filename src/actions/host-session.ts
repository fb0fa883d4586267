import { HostKeyMismatchError, RemoteExecError } from '../adapters/ssh/node-ssh-shell.js';
import type { CommandServices } from '../core/command.js';
import { WardError } from '../errors.js';
import type { ExecResult, HostTarget, ShellSession } from '../ports/remote-shell.js';
import { code, context, esc, header, section } from '../render/blocks.js';
import { acquireHostLock, describeHolders, type HostAccess } from './host-lock.js';
import {
  type ApprovedCommands,
  checkApproved,
  displayCommand,
  type RemoteCommand,
} from './remote-command.js';

/** A remote step answered with an unexpected exit code; the message shows the command and its stderr. */
export class RemoteStepError extends WardError {
  constructor(host: string, command: RemoteCommand, result: ExecResult) {
    const err = result.stderr.toString('utf8').trim().slice(0, 300);
    super(
      'ward_remote_step_failed',
      result.timedOut
        ? `on ${host}, \`${displayCommand(command).slice(0, 200)}\` did not finish in time and was stopped`
        : `on ${host}, \`${displayCommand(command).slice(0, 200)}\` exited ${result.code}${err ? `: ${err}` : ''}`,
    );
  }
}

export interface RemoteJob {
  services: CommandServices;
  requestId: string;
  command: string;
  /** Slack user who asked. */
  user: string;
  /** Channel (and thread) of the request. */
  thread: { channel: string; ts: string };
  /** `read` for commands declared `readOnly` (forensics): they share a host with other reads. Default `change`. */
  access?: HostAccess;
  /**
   * The commands the approved plan shows, per host (jobFrom builds it from the plan): runRemote and runCollection
   * refuse anything else before it reaches the host. `unplanned-read` only for the containment check.
   */
  approved: ApprovedCommands;
}

/** How long a host stays locked if ward dies mid-remediation: long enough for the slowest job, then freed. */
export function hostLockTtlMs(services: CommandServices): number {
  const c = services.config;
  return (
    3 * c.WARD_SSH_COMMAND_TIMEOUT_MS +
    2 * c.WARD_SSH_CONNECT_TIMEOUT_MS +
    c.WARD_LOCKDOWN_CONFIRM_SECONDS * 2000
  );
}

/**
 * Connects to a host and verifies its pinned key. A mismatch is a security event, not a mere failure: ward
 * posts a warning in the channel (top level, where people look) and records it in the audit log, then refuses.
 */
export async function connectHost(job: RemoteJob, host: HostTarget): Promise<ShellSession> {
  try {
    return await job.services.shell.connect(host, {
      connectTimeoutMs: job.services.config.WARD_SSH_CONNECT_TIMEOUT_MS,
    });
  } catch (err) {
    if (err instanceof HostKeyMismatchError) {
      await job.services.audit
        .record({
          type: 'security.host_key_mismatch',
          actor: job.user,
          requestId: job.requestId,
          command: job.command,
          hosts: [host.name],
          details: { expected: err.expected, presented: err.presented, address: host.address },
        })
        .catch(() => {});
      await job.services.chat
        .postMessage(job.thread.channel, {
          text: `:rotating_light: Security warning: ${host.name} presented an unexpected SSH host key. ward refused to connect.`,
          blocks: [
            header(`Security warning: host key mismatch on ${host.name}`),
            section(
              `:rotating_light: ward refused to connect to *${esc(host.name)}* (${code(`${host.address}:${host.port}`)}) for request ${code(job.requestId)}.\n*Pinned:* ${code(err.expected)}\n*Presented:* ${code(err.presented)}`,
            ),
            context(
              'This can be a man-in-the-middle or a rebuilt host. Check the key on the console (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) and update the inventory only if the change is expected. Nothing was run on this host.',
            ),
          ],
        })
        .catch((postErr) => job.services.log.error({ err: postErr }, 'could not post the host key warning'));
    }
    throw err;
  }
}

/**
 * Runs `fn` with the host's lock held and a verified connection open; releases both whatever happens.
 * The lock is taken before connecting: a change waits (WARD_HOST_LOCK_WAIT_SECONDS) for whatever holds the host,
 * saying so in the thread, and a host still busy then is refused without touching it. Reads share the host.
 */
export async function withHost<T>(
  job: RemoteJob,
  host: HostTarget,
  fn: (session: ShellSession) => Promise<T>,
): Promise<T> {
  const waitSeconds = job.services.config.WARD_HOST_LOCK_WAIT_SECONDS;
  const lock = await acquireHostLock(job.services.store, job.services.clock, host.name, {
    requestId: job.requestId,
    command: job.command,
    access: job.access ?? 'change',
    ttlMs: hostLockTtlMs(job.services),
    waitMs: waitSeconds * 1000,
    onWait: async (holders) => {
      job.services.log.info(
        { host: host.name, approvalRequestId: job.requestId, holders },
        'host busy: waiting for it',
      );
      await job.services.chat.postMessage(
        job.thread.channel,
        {
          text: `:hourglass_flowing_sand: ${esc(describeHolders(host.name, holders))}; waiting up to ${waitSeconds} s for it to finish.`,
        },
        { threadTs: job.thread.ts },
      );
    },
  });
  try {
    const session = await connectHost(job, host);
    try {
      return await fn(session);
    } finally {
      await session.close().catch(() => {});
    }
  } finally {
    await lock
      .release()
      .catch((err) => job.services.log.warn({ err, host: host.name }, 'could not release host lock'));
  }
}

/**
 * Runs one templated command with ward's command timeout, if the approved plan shows it on this host (else throws
 * PlanMismatchError, and nothing is sent).
 */
export async function runRemote(
  session: ShellSession,
  job: RemoteJob,
  command: RemoteCommand,
): Promise<ExecResult> {
  checkApproved(job.approved, session.host.name, command);
  return session.exec(command.argv, {
    ...(command.stdin !== undefined ? { stdin: command.stdin } : {}),
    timeoutMs: job.services.config.WARD_SSH_COMMAND_TIMEOUT_MS,
    maxOutputBytes: 8 * 1024 * 1024,
  });
}

/** Runs a command that must exit 0; otherwise throws RemoteStepError naming the command and its stderr. */
export async function mustRun(
  session: ShellSession,
  job: RemoteJob,
  command: RemoteCommand,
): Promise<ExecResult> {
  const r = await runRemote(session, job, command);
  if (r.code !== 0) throw new RemoteStepError(session.host.name, command, r);
  return r;
}

/** The userMessage of a WardError (adapter errors included), else a generic line; never a stack. */
export function describeError(err: unknown): string {
  if (err instanceof WardError) return err.userMessage;
  if (err instanceof RemoteExecError) return err.userMessage;
  return "an unexpected error (see ward's log)";
}
