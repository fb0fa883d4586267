import type { HostTarget, RemoteShell, ShellSession } from '../ports/remote-shell.js';

/**
 * One RemoteShell for the whole inventory: each host goes to the shell of its `transport` (SSH unless the
 * inventory says `transport: local`). Commands and steps never know which one ran them.
 */
export class TransportShell implements RemoteShell {
  constructor(private readonly shells: { ssh: RemoteShell; local: RemoteShell }) {}

  connect(host: HostTarget, options?: { connectTimeoutMs?: number }): Promise<ShellSession> {
    const shell = host.transport === 'local' ? this.shells.local : this.shells.ssh;
    return shell.connect(host, options);
  }
}
