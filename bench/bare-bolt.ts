/**
 * The ack-latency baseline: a bare @slack/bolt App with HTTPReceiver, configured like ward (same signing secret,
 * same fake Slack for the Web API), that acks every /ward command and does nothing else. Started as its own
 * process by bench/lib.ts (startBareBolt); reads its settings from the environment it is given.
 */
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';

const port = Number(process.env['BARE_BOLT_PORT']);
const receiver = new HTTPReceiver({
  signingSecret: process.env['SLACK_SIGNING_SECRET'] ?? '',
  endpoints: '/slack/events',
  processBeforeResponse: false,
});
const slackApiUrl = process.env['SLACK_API_URL'];
const app = new App({
  token: process.env['SLACK_BOT_TOKEN'] ?? '',
  receiver,
  logLevel: LogLevel.INFO,
  ...(slackApiUrl ? { clientOptions: { slackApiUrl } } : {}),
});

app.command(/^\/ward/, async ({ ack }) => {
  await ack();
});

await app.start(port);
process.stdout.write(`${JSON.stringify({ msg: 'bare bolt listening', port })}\n`);
process.once('SIGTERM', () => {
  app.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
