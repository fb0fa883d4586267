import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PendingBodies } from './pending-bodies.js';

export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: Record<string, string>,
) => unknown;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: RouteHandler;
}

/** What an unauthenticated sender may cost ward (WARD_HTTP_* in src/config/env.ts; docs/security.md). */
export interface HttpLimits {
  /** Bodies read before their sender is authenticated, at once, from everyone. */
  maxPendingBodies: number;
  /** The same, from one address. */
  maxPendingBodiesPerIp: number;
  /** How long a body may take to arrive once its headers are in. */
  bodyTimeoutMs: number;
}

export const defaultHttpLimits: HttpLimits = {
  maxPendingBodies: 32,
  maxPendingBodiesPerIp: 4,
  bodyTimeoutMs: 10_000,
};

/** Seconds a refused sender is told to wait (Retry-After). */
const retryAfterSeconds = 5;

/** A request path ward cannot read (bad percent-encoding, not origin-form): the client's mistake, answered 400. */
class BadPathError extends Error {}

/**
 * ward's one HTTP server: Slack's endpoint, health, metrics and alert webhooks. Routes are registered by the
 * features that own them; `:name` segments become params.
 *
 * No request may take ward down: dispatch, handlers (sync or async) and param decoding are all caught here, a
 * client's mistake is answered 4xx and anything else 500, and nothing about the request is logged.
 */
export class HttpRoutes {
  private readonly routes: Route[] = [];
  readonly pendingBodies: PendingBodies;

  constructor(readonly limits: HttpLimits = defaultHttpLimits) {
    this.pendingBodies = new PendingBodies(limits.maxPendingBodies, limits.maxPendingBodiesPerIp);
  }

  add(method: string, path: string, handler: RouteHandler): void {
    const keys: string[] = [];
    const source = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\/:([a-zA-Z]+)/g, (_m, k: string) => {
      keys.push(k);
      return '/([^/]+)';
    });
    this.routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}$`), keys, handler });
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    let dispatched: unknown;
    try {
      dispatched = this.dispatch(req, res);
    } catch (err) {
      dispatched = Promise.reject(err);
    }
    Promise.resolve(dispatched).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof BadPathError) sendJson(res, 400, { error: 'malformed request path' });
      else sendJson(res, 500, { error: 'internal error' });
    });
  };

  private dispatch(req: IncomingMessage, res: ServerResponse): unknown {
    const url = req.url ?? '/';
    // Only origin-form (`/path?query`) reaches a route: `*` (OPTIONS *) and absolute-form URLs are not ward's.
    if (!url.startsWith('/')) throw new BadPathError();
    const path = url.split('?')[0] ?? '/';
    const allowed = new Set<string>();
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      allowed.add(r.method);
      if (r.method === 'GET') allowed.add('HEAD');
      // HEAD is GET without the body (node drops the body for HEAD responses).
      if (r.method !== req.method && !(r.method === 'GET' && req.method === 'HEAD')) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => {
        params[k] = decodeParam(m[i + 1] ?? '');
      });
      return r.handler(req, res, params);
    }
    if (allowed.size > 0) {
      res.setHeader('allow', [...allowed].join(', '));
      sendJson(res, 405, { error: 'method not allowed' });
      return undefined;
    }
    sendJson(res, 404, { error: 'not found' });
    return undefined;
  }

  /**
   * Takes a slot for reading a body whose sender is not authenticated yet; when none is free, answers 429 (this
   * address holds its share) or 503 (ward is full), both with Retry-After and Connection: close, without reading
   * the body, and returns undefined. The slot is released when `release` is called or the response closes.
   */
  admitUnauthenticatedBody(req: IncomingMessage, res: ServerResponse): (() => void) | undefined {
    const slot = this.pendingBodies.acquire(req.socket.remoteAddress ?? 'unknown');
    if ('refused' in slot) {
      res.setHeader('retry-after', String(retryAfterSeconds));
      refuseUnread(res, slot.refused === 'ip' ? 429 : 503, {
        error:
          slot.refused === 'ip'
            ? 'too many unauthenticated requests from this address; retry later'
            : 'ward is busy; retry later',
      });
      return undefined;
    }
    res.once('close', slot.release);
    return slot.release;
  }
}

function decodeParam(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new BadPathError();
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Answers without reading the request body, and closes the connection afterwards: the unread body is discarded
 * by node as it arrives, never buffered, and the sender cannot reuse the connection to try again cheaply.
 */
export function refuseUnread(res: ServerResponse, status: number, body: unknown): void {
  res.setHeader('connection', 'close');
  sendJson(res, status, body);
}

/**
 * Reads a request body up to maxBytes; rejects with a BodyTooLargeError beyond it (the caller answers 413), and
 * with a BodyTimeoutError when it has not all arrived within timeoutMs (a slow sender holding a slot; 408).
 */
export async function readBody(
  req: IncomingMessage,
  maxBytes: number,
  timeoutMs: number = defaultHttpLimits.bodyTimeoutMs,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw new BodyTooLargeError(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // Ends the for-await below with an error; the chunks read so far are dropped with it.
    req.destroy(new BodyTimeoutError(timeoutMs));
  }, timeoutMs);
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw new BodyTooLargeError(maxBytes);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (timedOut) throw new BodyTimeoutError(timeoutMs);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks);
}

export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`body larger than ${maxBytes} bytes`);
  }
}

export class BodyTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`body not received within ${timeoutMs} ms`);
  }
}

/** The status for a request node could not parse: too-large headers 431, timeouts 408, anything else 400. */
function clientErrorResponse(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

export async function listen(
  routes: HttpRoutes,
  port: number,
  host: string,
): Promise<{ server: Server; port: number }> {
  const server = createServer(
    // Timeouts are checked this often (node's default is 30 s, which would let a slow sender keep 30 s more).
    { connectionsCheckingInterval: 1000 },
    routes.handle,
  );
  // Slack retries after 3 s; keep-alive connections from a load balancer should not hold shutdown forever.
  server.keepAliveTimeout = 5000;
  // Headers must all arrive within 10 s, and a whole request within the body timeout plus that (a slowloris holds
  // a socket, not ward).
  server.headersTimeout = 10_000;
  server.requestTimeout = routes.limits.bodyTimeoutMs + 10_000;
  // A request node cannot parse (bad chunked encoding, bad header, oversized header) is answered here. The error
  // carries the raw bytes received (`rawPacket`, headers included): it is never logged.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && err.code !== 'ECONNRESET' && err.code !== 'EPIPE') {
      socket.end(
        `HTTP/1.1 ${clientErrorResponse(err.code)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      );
    } else {
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
