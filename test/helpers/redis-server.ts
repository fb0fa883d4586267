/**
 * A real redis-server per test file, on a free loopback port, in its own temporary directory.
 *
 * No redis-server may outlive the tests: each one is killed when the test process exits, and a small watchdog
 * (`sh` reading a pipe from this process) kills it and removes its directory even if the test process itself is
 * killed outright (vitest may end its workers with a signal, which skips 'exit' handlers).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface RedisProcess {
  /** `redis://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Working directory (the AOF lives here with appendonly); kept across stop/kill/start. */
  dir: string;
  /** SIGTERM (Redis flushes and exits cleanly) and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL (a crash: nothing is flushed beyond what was already written) and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port and directory, and wait until it answers PING. */
  start(): Promise<void>;
}

export interface StartRedisOptions {
  /** Persist every write to an append-only file in `dir` (fsync always, so a kill keeps acknowledged writes). */
  appendonly?: boolean;
  /** Start as a replica of this primary port (on 127.0.0.1). */
  replicaOf?: number;
  /**
   * Start a sentinel instead (`redis-server sentinel.conf --sentinel`) monitoring this primary. Sentinel rewrites
   * its config file, which lives in `dir`.
   */
  sentinel?: {
    name: string;
    primaryPort: number;
    quorum: number;
    downAfterMs: number;
    failoverTimeoutMs: number;
  };
}

const READY_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * Told the pid of the current redis-server, one line per launch (an empty line once it exited). When this process
 * dies its stdin closes: it kills the last pid it was told and removes the directory. Both reach the script as
 * arguments or digits-only lines, never spliced into it.
 */
const WATCHDOG_SCRIPT = [
  'pid=',
  'while read -r line; do case "$line" in (""|*[!0-9]*) pid= ;; (*) pid="$line" ;; esac; done',
  'if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null; fi',
  'rm -rf -- "$1"',
].join('\n');

const live = new Set<Running>();
const dirs = new Set<string>();
let exitHookInstalled = false;

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
  assertRedisInstalled();
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'ward-redis-'));
  dirs.add(dir);
  const watchdog = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'ward-redis-watchdog', dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.unref();
  const watchdogInput = watchdog.stdin as Socket;
  watchdogInput.unref();
  const watch = (pid: number | undefined): void => {
    watchdogInput.write(`${pid ?? ''}\n`);
  };
  const args = (port: number): string[] => (opts.sentinel ? sentinelArgs(port) : serverArgs(port));
  const sentinelArgs = (port: number): string[] => {
    const m = opts.sentinel!;
    const conf = join(dir, 'sentinel.conf');
    // Written on each launch only if absent: a restarted sentinel keeps what it learnt (the current primary).
    if (!existsSync(conf)) {
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${m.name} 127.0.0.1 ${m.primaryPort} ${m.quorum}`,
          `sentinel down-after-milliseconds ${m.name} ${m.downAfterMs}`,
          `sentinel failover-timeout ${m.name} ${m.failoverTimeoutMs}`,
          `sentinel parallel-syncs ${m.name} 1`,
          '',
        ].join('\n'),
      );
    }
    return [conf, '--sentinel', '--port', String(port), '--daemonize', 'no'];
  };
  const serverArgs = (port: number): string[] => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--daemonize',
    'no',
    '--dir',
    dir,
    ...(opts.appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(opts.replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(opts.replicaOf)]),
  ];

  // The free port may be taken between freePort() and Redis binding it: try another one.
  let running: Running | undefined;
  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS && !running; attempt++) {
    port = await freePort();
    try {
      running = await launch(args(port), port, watch);
    } catch (err) {
      if (!(err instanceof PortInUseError)) throw err;
      lastError = err;
    }
  }
  if (!running)
    throw new Error(`redis-server could not bind a free port in ${PORT_ATTEMPTS} attempts`, {
      cause: lastError,
    });

  let current: Running | undefined = running;
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const target = current;
    if (!target) return;
    current = undefined;
    target.child.kill(sig);
    await target.exited;
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async start() {
      if (current) throw new Error(`redis-server on port ${port} is already running`);
      // The same port on purpose: the code under test already holds this URL.
      current = await launch(args(port), port, watch);
    },
  };
}

class PortInUseError extends Error {}

function assertRedisInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (probe.error) {
    throw new Error(
      'redis-server is not installed, and the integration tests need a real one: run `apt-get install -y redis-server`',
      { cause: probe.error },
    );
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const running of live) running.child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** Spawns redis-server and resolves once it answers PING; rejects with its output if it exits first. */
async function launch(
  args: string[],
  port: number,
  watch: (pid: number | undefined) => void,
): Promise<Running> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  watch(child.pid);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  const running: Running = { child, exited };
  live.add(running);
  void exited.then(() => {
    live.delete(running);
    watch(undefined);
  });

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || spawnError) {
      await exited;
      if (/Address already in use|Could not create server TCP listening socket/i.test(output)) {
        throw new PortInUseError(`port ${port} is in use:\n${output}`);
      }
      throw new Error(`redis-server exited before answering PING:\n${output}`, { cause: spawnError });
    }
    if (await answersPing(port)) return running;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  await exited;
  throw new Error(
    `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output}`,
  );
}

/** One inline PING over raw TCP: true on `+PONG`, false on refusal, error, or no answer within 1 s. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
