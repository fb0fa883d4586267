import { spawn } from 'node:child_process';
import { UserInputError } from '../../errors.js';
import type {
  ExecOptions,
  ExecResult,
  HostTarget,
  RemoteShell,
  ShellSession,
} from '../../ports/remote-shell.js';
import { CappedOutput, DEFAULT_MAX_OUTPUT_BYTES, execResult } from '../capped-output.js';

/**
 * The child's whole environment. ward's own environment holds its secrets (Slack tokens, the encryption key), so
 * it is never inherited; a fixed PATH also means the same binaries are found whoever started ward.
 */
const CHILD_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
/** POSIX shells answer 127 for a command that does not exist; a local host answers the same way SSH hosts do. */
const COMMAND_NOT_FOUND = 127;

/**
 * RemoteShell for inventory hosts with `transport: local`: runs the argv on the machine ward itself runs on, as
 * ward's own user. Used by the sandbox's `localhost` and by deployments that watch ward's own host.
 *
 * The argv goes straight to execve (child_process.spawn, `shell: false`): there is no shell to interpret
 * anything, so no quoting is needed and none is done. spawn rather than execFile because execFile kills the child
 * when its output passes maxBuffer, while ward's contract (as over SSH) is to let the command finish and keep only
 * the first `maxOutputBytes`, flagging `truncated`. A timeout kills the whole process group, so that a pipeline's
 * children do not outlive it.
 */
export class LocalShell implements RemoteShell {
  async connect(host: HostTarget): Promise<ShellSession> {
    return new LocalSession(host);
  }
}

class LocalSession implements ShellSession {
  readonly host: HostTarget;
  readonly #running = new Set<number>();

  constructor(host: HostTarget) {
    this.host = host;
  }

  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const [file, ...args] = argv;
    if (file === undefined || file === '')
      return Promise.reject(new UserInputError('internal: empty command'));
    if (argv.some((a) => a.includes('\0'))) {
      return Promise.reject(new UserInputError('A command argument contains a NUL byte; nothing was run.'));
    }
    const maxBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const started = performance.now();
    return new Promise<ExecResult>((resolve) => {
      const child = spawn(file, args, {
        shell: false,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: CHILD_ENV,
      });
      const stdout = new CappedOutput(maxBytes);
      const stderr = new CappedOutput(maxBytes);
      let timedOut = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;

      const finish = (code: number | null, extraStderr?: string): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (child.pid !== undefined) this.#running.delete(child.pid);
        if (extraStderr !== undefined) stderr.note(extraStderr);
        resolve(execResult(stdout, stderr, code, timedOut, started));
      };

      child.stdout.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr.push(chunk);
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') finish(COMMAND_NOT_FOUND, `${file}: command not found\n`);
        else finish(COMMAND_NOT_FOUND, `${file}: ${err.message}\n`);
      });
      child.on('close', (code, signal) => finish(signal ? null : code));
      // A command that exits without reading its stdin makes the write fail with EPIPE: not an error of ours.
      child.stdin.on('error', () => {});
      if (child.pid !== undefined) this.#running.add(child.pid);

      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          timedOut = true;
          killGroup(child.pid);
          finish(null);
        }, options.timeoutMs);
      }
      if (options.stdin !== undefined) child.stdin.end(options.stdin);
      else child.stdin.end();
    });
  }

  async close(): Promise<void> {
    for (const pid of this.#running) killGroup(pid);
    this.#running.clear();
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
