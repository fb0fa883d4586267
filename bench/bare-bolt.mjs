// @ts-check
/**
 * The ack-latency and memory baseline: a bare @slack/bolt App with HTTPReceiver, configured like ward (same
 * signing secret, same fake Slack for the Web API). Plain JavaScript run with plain `node`, as ward runs compiled
 * (`npm start` → dist/src/main.js), so neither side pays for a TypeScript loader.
 *
 * BARE_BOLT_WORK picks what it does for a /ward command:
 *   ack   acks and does nothing else (the old baseline, kept as a second column)
 *   same  the same visible work as ward: `help` → ack, then one reply through response_url (ward's help);
 *         `lockdown …` → ack, then one Redis write (ward stores the request) and one chat.postMessage (ward's
 *         approval message); anything else → ack, then one response_url reply (ward's usage/unknown-command reply)
 * Started as its own process by bench/lib.ts (startBareBolt); reads its settings from the environment.
 */
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';

const port = Number(process.env.BARE_BOLT_PORT);
const work = process.env.BARE_BOLT_WORK === 'same' ? 'same' : 'ack';
const receiver = new HTTPReceiver({
  signingSecret: process.env.SLACK_SIGNING_SECRET ?? '',
  endpoints: '/slack/events',
  processBeforeResponse: false,
});
const slackApiUrl = process.env.SLACK_API_URL;
const app = new App({
  token: process.env.SLACK_BOT_TOKEN ?? '',
  receiver,
  logLevel: LogLevel.INFO,
  ...(slackApiUrl ? { clientOptions: { slackApiUrl } } : {}),
});

/** @type {import('ioredis').Redis | undefined} */
let redis;
if (work === 'same') {
  // Loaded only for this mode, so that the ack-only baseline stays as bare as before.
  const { Redis } = await import('ioredis');
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
  await redis.connect();
}

let n = 0;
app.command(/^\/ward/, async ({ ack, command, respond, client }) => {
  await ack();
  if (work === 'ack') return;
  const text = command.text.trim();
  if (/^lockdown\s+\S/.test(text)) {
    const id = `${process.pid}-${++n}`;
    await redis?.set(
      `bare:request:${id}`,
      JSON.stringify({ id, text, user: command.user_id }),
      'PX',
      900_000,
    );
    await client.chat.postMessage({ channel: command.channel_id, text: `Approval needed: ${text} (${id})` });
  } else {
    await respond({ response_type: 'ephemeral', text: `bare bolt: ${text}` });
  }
});

await app.start(port);
process.stdout.write(`${JSON.stringify({ msg: 'bare bolt listening', port, work })}\n`);
process.once('SIGTERM', () => {
  Promise.all([app.stop(), redis?.quit()]).then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
