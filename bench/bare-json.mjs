// @ts-check
/**
 * The alert-storm baseline: a bare node:http server that reads the body, parses the JSON and answers 202. Nothing
 * else. Plain JavaScript in its own process (started by bench/alert-storm.ts), so that it does not share an event
 * loop with the load generator or the fake Slack, exactly like ward.
 */
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"body is not JSON"}');
      return;
    }
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{"accepted":1}');
  });
});
server.listen(Number(process.env.BARE_JSON_PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'bare json listening', port })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
