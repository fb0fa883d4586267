import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Duplex } from 'node:stream';
import type { NodeSSH } from 'node-ssh';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { withTimeout } from '../../core/with-timeout.js';
import { WardError } from '../../errors.js';
import { sshConnectionFailuresTotal } from '../../metrics.js';
import type {
  ExecOptions,
  ExecResult,
  HostTarget,
  RemoteShell,
  ShellSession,
} from '../../ports/remote-shell.js';
import { CappedOutput, DEFAULT_MAX_OUTPUT_BYTES, execResult } from '../capped-output.js';
import { shellQuote } from './shell-quote.js';

/**
 * node-ssh (and ssh2 under it) is loaded on the first connection, not at start: most of the time ward runs no SSH
 * command at all, and the library costs a few MiB of resident memory from the moment it is imported.
 */
let nodeSsh: Promise<typeof import('node-ssh')> | undefined;
const loadNodeSsh = () => (nodeSsh ??= import('node-ssh'));

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const HOST_KEY_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;
const PROXY_STDERR_BYTES = 4096;

/** The host presented a key other than the one pinned in the inventory; nothing was sent to it. */
export class HostKeyMismatchError extends WardError {
  readonly host: string;
  readonly expected: string;
  readonly presented: string;

  constructor(host: string, expected: string, presented: string) {
    super(
      'ward_ssh_host_key_mismatch',
      `ward refused to connect to ${host}: its SSH host key is ${presented}, but the inventory pins ${expected}. ` +
        'This can be a man-in-the-middle or a rebuilt host. Check the key out of band (e.g. on the console: ' +
        '`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) and update the inventory only if the change is expected.',
    );
    this.host = host;
    this.expected = expected;
    this.presented = presented;
  }
}

/** The host could not be reached, did not finish the handshake in time, or refused ward's key. */
export class ConnectError extends WardError {
  readonly host: string;

  constructor(host: string, userMessage: string, cause?: unknown) {
    super('ward_ssh_connect', userMessage, { cause });
    this.host = host;
  }
}

/** A command could not be started on, or lost its connection to, a host it was connected to. */
export class RemoteExecError extends WardError {
  constructor(userMessage: string, cause?: unknown) {
    super('ward_ssh_exec', userMessage, { cause });
  }
}

/** OpenSSH's fingerprint form of a raw host key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

function sameFingerprint(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

interface Proxy {
  child: ChildProcessWithoutNullStreams;
  sock: Duplex;
  stderr(): string;
  kill(): void;
}

/** Spawns a ProxyCommand (argv, no shell) and makes its stdout/stdin the SSH transport. */
function startProxy(argv: readonly string[], host: HostTarget): Proxy {
  const args = argv.map((a) => a.replaceAll('%h', host.address).replaceAll('%p', String(host.port)));
  const [cmd, ...rest] = args;
  if (!cmd) throw new ConnectError(host.name, `the proxyCommand for ${host.name} is empty`);
  const child = spawn(cmd, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < PROXY_STDERR_BYTES) stderr += chunk.toString('utf8');
  });
  // A proxy that cannot start (ENOENT) or exits surfaces as the SSH transport closing; keep why for the message.
  child.on('error', (err) => {
    stderr += `cannot run ${cmd}: ${err.message}`;
  });
  child.stdin.on('error', () => {});
  const sock = Duplex.from({ readable: child.stdout, writable: child.stdin });
  sock.on('error', () => {});
  return {
    child,
    sock,
    stderr: () => stderr.trim().slice(0, PROXY_STDERR_BYTES),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

function describeFailure(err: unknown, proxy: Proxy | undefined): { reason: string; auth: boolean } {
  const e = err as { level?: string; code?: string; message?: string } | undefined;
  const proxyText = proxy?.stderr();
  if (e?.level === 'client-authentication') return { reason: 'authentication refused', auth: true };
  if (e?.level === 'client-timeout') {
    return { reason: `no SSH handshake in time${proxyText ? ` (proxy: ${proxyText})` : ''}`, auth: false };
  }
  if (proxyText) return { reason: `proxy command failed: ${proxyText}`, auth: false };
  if (e?.code === 'ECONNREFUSED') return { reason: 'connection refused (is sshd running?)', auth: false };
  if (e?.code === 'EHOSTUNREACH' || e?.code === 'ENETUNREACH') {
    return { reason: 'host unreachable', auth: false };
  }
  if (e?.code === 'ETIMEDOUT')
    return { reason: 'connection closed before the SSH handshake finished', auth: false };
  return { reason: e?.message ?? String(err), auth: false };
}

/** The `reason` label of ward_ssh_connection_failures_total. */
function failureKind(err: unknown, mismatch: boolean, auth: boolean): string {
  const e = err as { level?: string; code?: string } | undefined;
  if (mismatch) return 'host_key';
  if (auth) return 'auth';
  if (e?.level === 'client-timeout') return 'timeout';
  if (e?.code === 'ECONNREFUSED') return 'refused';
  if (e?.code === 'EHOSTUNREACH' || e?.code === 'ENETUNREACH') return 'unreachable';
  return 'other';
}

/**
 * RemoteShell over SSH (node-ssh 13 / ssh2). Every connection pins the host key (no key, no connection), can be
 * carried by a ProxyCommand, and runs argv commands with each element shell-quoted.
 */
export class NodeSshShell implements RemoteShell {
  readonly #connectTimeoutMs: number;

  constructor(options: { connectTimeoutMs?: number } = {}) {
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  async connect(host: HostTarget, options: { connectTimeoutMs?: number } = {}): Promise<ShellSession> {
    const timeoutMs = options.connectTimeoutMs ?? this.#connectTimeoutMs;
    const where = `${host.name} (${host.address}:${host.port})`;
    if (!HOST_KEY_PATTERN.test(host.hostKey)) {
      throw new ConnectError(
        host.name,
        `ward will not connect to ${where}: the inventory has no valid pinned host key for it (expected "SHA256:…" as printed by ssh-keygen -lf).`,
      );
    }
    let privateKey: string;
    try {
      privateKey = await readFile(host.keyPath, 'utf8');
    } catch (err) {
      throw new ConnectError(
        host.name,
        `could not connect to ${where}: cannot read ward's SSH key ${host.keyPath} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
        err,
      );
    }

    let presented: string | undefined;
    let mismatch = false;
    const proxy = host.proxyCommand ? startProxy(host.proxyCommand, host) : undefined;
    const config: ConnectConfig & { privateKey: string } = {
      username: host.user,
      privateKey,
      readyTimeout: timeoutMs,
      // Called with the raw key blob (no hostHash): pin it before anything is authenticated or sent.
      hostVerifier: (key: Buffer): boolean => {
        presented = hostKeyFingerprint(key);
        mismatch = !sameFingerprint(presented, host.hostKey);
        return !mismatch;
      },
      ...(proxy ? { sock: proxy.sock } : { host: host.address, port: host.port }),
    };

    const ssh = new (await loadNodeSsh()).NodeSSH();
    try {
      await ssh.connect(config);
    } catch (err) {
      proxy?.kill();
      ssh.dispose();
      const { reason, auth } = describeFailure(err, proxy);
      sshConnectionFailuresTotal.inc({ host: host.name, reason: failureKind(err, mismatch, auth) });
      if (mismatch && presented) throw new HostKeyMismatchError(host.name, host.hostKey, presented);
      if (auth) {
        throw new ConnectError(
          host.name,
          `could not log in to ${where} as ${host.user}: the server refused ward's key ${host.keyPath} (is its public key in ${host.user}'s authorized_keys?).`,
          err,
        );
      }
      throw new ConnectError(
        host.name,
        `could not connect to ${where} within ${seconds(timeoutMs)}: ${reason}`,
        err,
      );
    }
    const connection = ssh.connection;
    if (!connection) {
      proxy?.kill();
      throw new ConnectError(
        host.name,
        `could not connect to ${where}: the connection closed right after login`,
      );
    }
    return new NodeSshSession(host, ssh, connection, proxy);
  }
}

/**
 * A command run through sudo on a host whose inventory says `sudo: true`: non-interactive (`-n`: a missing rule
 * fails at once instead of waiting for a password), sudo's own timeout (`-T`, allowed by `user_command_timeouts`
 * in the generated sudoers file), then `--` and the exact argv of the template, which the sudoers file matches.
 */
export function sudoArgv(argv: readonly string[], timeoutSeconds?: number): string[] {
  return [
    'sudo',
    '-n',
    ...(timeoutSeconds === undefined ? [] : ['-T', String(timeoutSeconds)]),
    '--',
    ...argv,
  ];
}

/** How long after ward's own timeout the remote `timeout` wrapper kills a command that ignored the signal. */
const REMOTE_KILL_AFTER_MS = 1000;

interface Ssh2ChannelInternals {
  outgoing?: { id?: number; state?: string };
  _client?: { _protocol?: { signal?(channelId: number, signal: string): void } };
}

/**
 * Sends an SSH "signal" channel request. ssh2's public `channel.signal()` silently does nothing once stdin has
 * been ended (it checks `writable`), which is always the case here because stdin is closed right after writing
 * it; the request itself is legal on a half-closed channel, so send it through ssh2's protocol object.
 * OpenSSH (at least through 9.2) refuses signals for root logins ("session signalling requires privilege
 * separation": root sessions run without the privsep child), hence the remote `timeout` backstop in exec().
 */
function sendSignal(channel: ClientChannel, signal: string): void {
  const internals = channel as unknown as Ssh2ChannelInternals;
  const id = internals.outgoing?.id;
  const protocol = internals._client?._protocol;
  try {
    if (
      id !== undefined &&
      (internals.outgoing?.state === 'open' || internals.outgoing?.state === 'eof') &&
      typeof protocol?.signal === 'function'
    ) {
      protocol.signal(id, signal);
    } else {
      channel.signal(signal);
    }
  } catch {
    // channel already closing: closing it below is all that is left to do
  }
}

interface Pending {
  fail(err: Error): void;
}

class NodeSshSession implements ShellSession {
  readonly host: HostTarget;
  readonly #ssh: NodeSSH;
  readonly #connection: Client;
  readonly #proxy: Proxy | undefined;
  readonly #pending = new Set<Pending>();
  #closed = false;
  #closedPromise: Promise<void>;

  constructor(host: HostTarget, ssh: NodeSSH, connection: Client, proxy: Proxy | undefined) {
    this.host = host;
    this.#ssh = ssh;
    this.#connection = connection;
    this.#proxy = proxy;
    // node-ssh removes its error listener once connected: without ours a reset connection would crash ward.
    connection.on('error', () => {});
    this.#closedPromise = new Promise((resolve) => {
      connection.once('close', () => {
        this.#closed = true;
        proxy?.kill();
        const lost = new RemoteExecError(
          `the SSH connection to ${host.name} was lost while a command was running`,
        );
        for (const p of this.#pending) p.fail(lost);
        this.#pending.clear();
        resolve();
      });
    });
  }

  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) return Promise.reject(new RemoteExecError('internal: empty command'));
    // With a timeout, coreutils `timeout` on the host is the backstop that really kills the command (and its
    // process group) shortly after ward gives up on it: see sendSignal for why the SSH signal is not enough.
    // Through sudo, sudo's own -T does it (a timeout outside sudo could not kill a root command).
    const backstopSeconds =
      options.timeoutMs === undefined
        ? undefined
        : Math.ceil((options.timeoutMs + REMOTE_KILL_AFTER_MS) / 1000);
    const wrapped = this.host.sudo
      ? sudoArgv(argv, backstopSeconds)
      : backstopSeconds === undefined
        ? argv
        : ['timeout', '-s', 'KILL', `${backstopSeconds}s`, ...argv];
    // Throws UserInputError on a NUL byte, before anything is sent.
    const command = wrapped.map(shellQuote).join(' ');
    if (this.#closed) {
      return Promise.reject(new RemoteExecError(`the SSH connection to ${this.host.name} is closed`));
    }
    const maxBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const started = performance.now();

    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const pending: Pending = {
        fail: (err) => {
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          reject(err);
        },
      };
      this.#pending.add(pending);

      this.#connection.exec(command, (err: Error | undefined, channel: ClientChannel) => {
        if (err) {
          this.#pending.delete(pending);
          pending.fail(
            new RemoteExecError(`could not start a command on ${this.host.name}: ${err.message}`, err),
          );
          return;
        }
        const stdout = new CappedOutput(maxBytes);
        const stderr = new CappedOutput(maxBytes);
        let timedOut = false;
        let code: number | null = null;

        channel.on('data', (chunk: Buffer) => {
          stdout.push(chunk);
        });
        channel.stderr.on('data', (chunk: Buffer) => {
          stderr.push(chunk);
        });
        channel.on('exit', (exitCode: number | null, signal?: string) => {
          code = signal ? null : exitCode;
        });
        channel.on('error', () => {});
        const finish = (): void => {
          this.#pending.delete(pending);
          if (settled) return;
          settled = true;
          if (timer) clearTimeout(timer);
          resolve(execResult(stdout, stderr, code, timedOut, started));
        };
        channel.on('close', finish);

        if (options.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            timedOut = true;
            // sshd closes the channel only once the command has exited. The signal request kills it at once where
            // sshd honours it; the remote `timeout` backstop kills it otherwise. ward answers now either way.
            sendSignal(channel, 'KILL');
            channel.close();
            finish();
          }, options.timeoutMs);
        }
        if (options.stdin !== undefined) channel.end(options.stdin);
        else channel.end();
      });
    });
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#ssh.dispose();
      await withTimeout(this.#closedPromise, 2000);
    }
    this.#proxy?.kill();
  }
}
