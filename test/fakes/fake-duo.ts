/**
 * A fake Duo Auth API on 127.0.0.1. It checks every request's signature the way Duo documents it (HMAC-SHA1 over
 * date, method, host, path and the sorted, percent-encoded parameters; HTTP Basic `ikey:hexsignature`) and answers
 * `/auth/v2/auth` pushes as the test decides per username: allow, deny, timeout (Duo's own answer), or hang.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type DuoBehaviour = 'allow' | 'deny' | 'timeout' | 'hang';

export interface FakeDuo {
  url: string;
  apiHost: string;
  ikey: string;
  skey: string;
  /** Every request: path, params, and whether its signature checked out. */
  requests: Array<{ method: string; path: string; params: Record<string, string>; signatureOk: boolean }>;
  behave(username: string, behaviour: DuoBehaviour): void;
  /** Ends every hanging push (its connection is dropped, as when Duo goes away). */
  releaseHanging(): void;
  close(): Promise<void>;
}

function rfc3986(v: string): string {
  return encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function expectedSignature(
  skey: string,
  host: string,
  method: string,
  path: string,
  date: string,
  params: URLSearchParams,
) {
  const keys = [...new Set(params.keys())].sort();
  const line = keys.map((k) => `${rfc3986(k)}=${rfc3986(params.get(k) ?? '')}`).join('&');
  return createHmac('sha1', skey)
    .update([date, method.toUpperCase(), host.toLowerCase(), path, line].join('\n'))
    .digest('hex');
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeDuo(
  opts: { ikey?: string; skey?: string; apiHost?: string } = {},
): Promise<FakeDuo> {
  const ikey = opts.ikey ?? 'DIWJ8X6AEYOR5OMC6TQ1';
  const skey = opts.skey ?? 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep';
  const apiHost = opts.apiHost ?? 'api-fake0001.duosecurity.com';
  const behaviours = new Map<string, DuoBehaviour>();
  const requests: FakeDuo['requests'] = [];
  const hanging = new Set<() => void>();

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = req.method === 'POST' ? await body(req) : url.search.slice(1);
    const params = new URLSearchParams(raw);
    const date = String(req.headers['date'] ?? '');
    const auth = String(req.headers['authorization'] ?? '');
    const [user, sig] = Buffer.from(auth.replace(/^Basic /, ''), 'base64')
      .toString('utf8')
      .split(':');
    const want = expectedSignature(skey, apiHost, req.method ?? '', url.pathname, date, params);
    const signatureOk =
      user === ikey &&
      sig !== undefined &&
      sig.length === want.length &&
      timingSafeEqual(Buffer.from(sig), Buffer.from(want));
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      params: Object.fromEntries(params),
      signatureOk,
    });
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (!date || !signatureOk) {
      send(401, { stat: 'FAIL', code: 40103, message: 'Invalid signature in request credentials' });
      return;
    }
    const username = params.get('username') ?? '';
    const behaviour = behaviours.get(username);
    if (url.pathname === '/auth/v2/preauth') {
      send(200, { stat: 'OK', response: { result: behaviour ? 'auth' : 'enroll', status_msg: '' } });
      return;
    }
    if (url.pathname !== '/auth/v2/auth') {
      send(404, { stat: 'FAIL', code: 40401, message: 'Resource not found' });
      return;
    }
    if (params.get('factor') !== 'push') {
      send(400, {
        stat: 'FAIL',
        code: 40002,
        message: 'Invalid request parameters',
        message_detail: 'factor',
      });
      return;
    }
    if (!behaviour) {
      send(400, {
        stat: 'FAIL',
        code: 40002,
        message: 'Invalid request parameters',
        message_detail: 'username',
      });
      return;
    }
    if (behaviour === 'hang') {
      await new Promise<void>((resolve) => {
        hanging.add(resolve);
        req.on('close', () => resolve());
      });
      res.destroy();
      return;
    }
    const answers = {
      allow: { result: 'allow', status: 'allow', status_msg: 'Success. Logging you in...' },
      deny: { result: 'deny', status: 'deny', status_msg: 'Login request denied.' },
      timeout: { result: 'deny', status: 'timeout', status_msg: 'Login timed out.' },
    };
    send(200, { stat: 'OK', response: answers[behaviour] });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    apiHost,
    ikey,
    skey,
    requests,
    behave: (u, b) => behaviours.set(u, b),
    releaseHanging() {
      for (const release of hanging) release();
      hanging.clear();
    },
    async close() {
      for (const release of hanging) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
