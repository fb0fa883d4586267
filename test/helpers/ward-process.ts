import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// ward runs as one node process with tsx's loader, not under the `tsx` CLI: that CLI is a parent process that relays
// signals, so SIGKILL would kill only the relay and leave ward running (a crash test would test nothing).
const NODE_ARGS = [
  '--import',
  pathToFileURL(`${ROOT}node_modules/tsx/dist/loader.mjs`).href,
  `${ROOT}src/main.ts`,
];

export interface WardProcess {
  url: string;
  port: number;
  /** Every log line ward printed so far (parsed JSON where possible). */
  logs: Array<Record<string, unknown>>;
  /** Raw stdout+stderr text. */
  output(): string;
  /** Resolves with the first log line matching the predicate (existing or future). */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (crash) and wait. */
  kill(): Promise<void>;
  readonly child: ChildProcess;
}

/**
 * Starts ward as a user would (`tsx src/main.ts`) with the given environment, on a free port, and waits until it
 * listens. The process is killed when the test process exits.
 */
export async function startWardProcess(
  env: Record<string, string | undefined>,
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<WardProcess> {
  const fullEnv: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/root',
    PORT: '0',
    WARD_BIND: '127.0.0.1',
    LOG_LEVEL: 'debug',
  };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fullEnv[k] = v;
  const child = spawn(process.execPath, NODE_ARGS, {
    cwd: options.cwd ?? ROOT,
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let text = '';
  const waiters: Array<{
    p: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }> = [];
  let buffered = '';
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    buffered += chunk.toString();
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { msg: line, raw: true };
      }
      logs.push(parsed);
      for (const w of [...waiters]) {
        if (w.p(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
      nl = buffered.indexOf('\n');
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = once(child, 'exit');

  const waitForLog = (p: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const found = logs.find(p);
      if (found) return resolve(found);
      const w = { p, resolve };
      waiters.push(w);
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(
          new Error(
            `ward did not log the expected line within ${timeoutMs} ms. Output:\n${text.slice(-4000)}`,
          ),
        );
      }, timeoutMs);
      const origResolve = w.resolve;
      w.resolve = (l) => {
        clearTimeout(t);
        origResolve(l);
      };
    });

  const listening = await Promise.race([
    waitForLog(
      (l) => typeof l['msg'] === 'string' && l['msg'].startsWith('ward listening on'),
      options.timeoutMs ?? 60_000,
    ),
    exited.then(() => {
      throw new Error(`ward exited before listening (code ${child.exitCode}). Output:\n${text}`);
    }),
  ]);
  const port = Number(listening['port']);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    logs,
    output: () => text,
    waitForLog,
    child,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      await exited;
      process.off('exit', killOnExit);
      return child.exitCode;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      process.off('exit', killOnExit);
    },
  };
}

/** Runs ward expecting it to refuse to start; resolves with its exit code and output. */
export async function runWardExpectingFailure(
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; output: string }> {
  const fullEnv: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/root' };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fullEnv[k] = v;
  const child = spawn(process.execPath, NODE_ARGS, {
    cwd: ROOT,
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await once(child, 'exit');
  clearTimeout(timer);
  return { code: child.exitCode, output };
}
