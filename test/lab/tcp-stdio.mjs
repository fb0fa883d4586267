#!/usr/bin/env node
// tcp-stdio.mjs <host> <port>: a minimal ProxyCommand. Connects to host:port and pipes stdin to the socket and
// the socket to stdout, exiting when either side closes. The lab runs it under `ip netns exec <mgmt>` so that
// ward's SSH connections originate inside the management namespace while ward runs in the root namespace.
import { connect } from 'node:net';

const [host, portText] = process.argv.slice(2);
const port = Number(portText);
if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: tcp-stdio.mjs <host> <port>\n');
  process.exit(2);
}

const socket = connect({ host, port });
socket.setNoDelay(true);
socket.on('connect', () => {
  process.stdin.pipe(socket);
  socket.pipe(process.stdout);
});
socket.on('error', (err) => {
  process.stderr.write(`tcp-stdio: ${err.message}\n`);
  process.exit(1);
});
socket.on('close', () => process.exit(0));
process.stdin.on('end', () => socket.end());
process.stdout.on('error', () => process.exit(0));
