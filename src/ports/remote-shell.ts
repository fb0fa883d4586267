/**
 * How ward runs commands on a server: over SSH (src/adapters/ssh/), or on ward's own machine for inventory hosts
 * with `transport: local` (src/adapters/local/, used by the sandbox's `localhost`).
 *
 * Commands are argument arrays, never strings built from user text: the adapter quotes every element with
 * `shellQuote` before it crosses the wire (sshd always hands the command line to the user's shell).
 */
export interface HostTarget {
  /** Inventory name, e.g. `web1`. */
  name: string;
  address: string;
  port: number;
  user: string;
  /** Path to the private key ward authenticates with. */
  keyPath: string;
  /** Pinned host key fingerprint, `SHA256:<base64 without padding>` as printed by `ssh-keygen -lf`. */
  hostKey: string;
  /**
   * Optional argv whose stdin/stdout carry the SSH connection (OpenSSH's ProxyCommand), with `%h` and `%p`
   * replaced by address and port. Used for bastions, and by the lab to originate traffic inside a namespace.
   */
  proxyCommand?: string[] | undefined;
  /**
   * `ssh` (the default) or `local`: the host is the machine ward runs on, and commands run there as ward's user,
   * without SSH (hostKey is then not a pinned key but a marker shown to approvers).
   */
  transport?: 'ssh' | 'local' | undefined;
  /**
   * Log in as a non-root `user` and run every command as `sudo -n -- <argv>` (inventory `sudo: true`); the
   * account's sudoers file allows exactly ward's command templates (`npm run doctor -- sudoers`).
   */
  sudo?: boolean | undefined;
}

export interface ExecOptions {
  /** Bytes written to the command's stdin, then closed. */
  stdin?: string | Buffer;
  /** Kill the command (close the channel) after this long. */
  timeoutMs?: number;
  /** Keep at most this many bytes of stdout (and of stderr); the rest is dropped and `truncated` is set. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  /** Exit code; null when the command was killed by a signal or timed out. */
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

/** One open connection to one host. */
export interface ShellSession {
  readonly host: HostTarget;
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

export interface RemoteShell {
  /**
   * Connects and verifies the pinned host key. Rejects with a HostKeyMismatchError when the key differs and with
   * a ConnectError (clear message, never a stack) when the host cannot be reached within the connect timeout.
   */
  connect(host: HostTarget, options?: { connectTimeoutMs?: number }): Promise<ShellSession>;
}
