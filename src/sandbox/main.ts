/**
 * `npm run sandbox`: try ward in a browser, without a Slack workspace. No configuration needed; REDIS_URL (use
 * Redis instead of the in-process store), LOG_LEVEL (ward's log, default warn) and SANDBOX_PORT (the page's port,
 * default a free one) are read when set. The sandbox is a command-line entry point like src/main.ts's cli(): ward
 * itself still reads its configuration only through loadConfig(), from the env object the sandbox builds.
 */
import { WardError } from '../errors.js';
import { installCrashHandlers } from '../log.js';
import { startSandbox } from './sandbox.js';

async function main(): Promise<void> {
  const port = process.env['SANDBOX_PORT'];
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  try {
    sandbox = await startSandbox({
      redisUrl: process.env['REDIS_URL'],
      logLevel: process.env['LOG_LEVEL'],
      ...(port ? { port: Number(port) } : {}),
    });
  } catch (err) {
    const message =
      err instanceof WardError ? err.userMessage : err instanceof Error ? err.message : String(err);
    process.stderr.write(`ward sandbox cannot start: ${message}\n`);
    process.exit(1);
  }
  installCrashHandlers(sandbox.ward.logger);
  process.stdout.write(
    `ward sandbox: open ${sandbox.url}\n` +
      `  ward itself: ${sandbox.ward.url} (Slack endpoint /slack/events), fake Slack API: ${sandbox.slack.apiUrl}\n` +
      '  WARD_DRY_RUN=1: approved changes are planned and reported, never applied. Ctrl-C stops everything.\n',
  );
  const shutdown = () => {
    sandbox.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

void main();
