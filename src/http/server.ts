import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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

/**
 * ward's one HTTP server: Slack's endpoint, health, metrics and alert webhooks. Routes are registered by the
 * features that own them; `:name` segments become params.
 */
export class HttpRoutes {
  private readonly routes: Route[] = [];
  private fallback: RouteHandler = (_req, res) => sendJson(res, 404, { error: 'not found' });

  add(method: string, path: string, handler: RouteHandler): void {
    const keys: string[] = [];
    const source = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\/:([a-zA-Z]+)/g, (_m, k: string) => {
      keys.push(k);
      return '/([^/]+)';
    });
    this.routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}$`), keys, handler });
  }

  /** Everything else (Bolt's own listener for /slack/events). */
  setFallback(handler: RouteHandler): void {
    this.fallback = handler;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== req.method) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1] ?? '');
      });
      Promise.resolve()
        .then(() => r.handler(req, res, params))
        .catch(() => {
          if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
          else res.end();
        });
      return;
    }
    if (pathMatched) {
      sendJson(res, 405, { error: 'method not allowed' });
      return;
    }
    this.fallback(req, res, {});
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Reads a request body up to maxBytes; rejects with a BodyTooLargeError beyond it (the caller answers 413). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw new BodyTooLargeError(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyTooLargeError(maxBytes);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`body larger than ${maxBytes} bytes`);
  }
}

export async function listen(
  routes: HttpRoutes,
  port: number,
  host: string,
): Promise<{ server: Server; port: number }> {
  const server = createServer(routes.handle);
  // Slack retries after 3 s; keep-alive connections from a load balancer should not hold shutdown forever.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
