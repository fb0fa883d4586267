/**
 * A fake Mailgun HTTP API on 127.0.0.1 for tests: accepts `POST /v3/<domain>/messages` as mailgun.js sends it
 * (multipart form, HTTP Basic `api:<key>`), records every message with its attachments, and can be told to fail.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeMail {
  domain: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  attachments: Array<{ filename: string; data: Buffer }>;
}

export interface FakeMailgun {
  /** `http://127.0.0.1:PORT`: pass as MAILGUN_URL. */
  readonly url: string;
  readonly messages: FakeMail[];
  /** The next `times` sends answer with HTTP `status` (e.g. 401 or 500). */
  failNext(status: number, times?: number): void;
  /** Drops the failures failNext queued and no send has used yet. */
  clearFaults(): void;
  waitForMessage(predicate?: (m: FakeMail) => boolean, timeoutMs?: number): Promise<FakeMail>;
  /** Requests refused or failed (status ≥ 400), for asserting that a failure happened. */
  readonly failures: Array<{ status: number; path: string }>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startFakeMailgun(opts: { apiKey: string }): Promise<FakeMailgun> {
  const messages: FakeMail[] = [];
  const failures: Array<{ status: number; path: string }> = [];
  const faults: number[] = [];
  const waiters: Array<{ p: (m: FakeMail) => boolean; resolve: (m: FakeMail) => void }> = [];
  const expectedAuth = `Basic ${Buffer.from(`api:${opts.apiKey}`).toString('base64')}`;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = req.url ?? '/';
      const answer = (status: number, json: unknown) => {
        if (status >= 400) failures.push({ status, path });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const match = /^\/v3\/([^/]+)\/messages$/.exec(path);
      if (req.method !== 'POST' || !match) return answer(404, { message: 'not found' });
      if (req.headers.authorization !== expectedAuth) return answer(401, { message: 'Forbidden' });
      const fault = faults.shift();
      if (fault !== undefined) return answer(fault, { message: `injected failure ${fault}` });
      const form = await new Response(body, {
        headers: { 'content-type': String(req.headers['content-type'] ?? '') },
      }).formData();
      const attachments: FakeMail['attachments'] = [];
      for (const value of form.getAll('attachment')) {
        if (typeof value !== 'string') {
          attachments.push({ filename: value.name, data: Buffer.from(await value.arrayBuffer()) });
        }
      }
      const mail: FakeMail = {
        domain: decodeURIComponent(match[1]!),
        from: String(form.get('from') ?? ''),
        to: form.getAll('to').flatMap((t) =>
          String(t)
            .split(',')
            .map((s) => s.trim()),
        ),
        subject: String(form.get('subject') ?? ''),
        text: String(form.get('text') ?? ''),
        attachments,
      };
      messages.push(mail);
      for (const w of [...waiters]) {
        if (w.p(mail)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(mail);
        }
      }
      answer(200, { id: `<${messages.length}.fake@${mail.domain}>`, message: 'Queued. Thank you.' });
    })().catch(() => {
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    failures,
    failNext(status, times = 1) {
      for (let i = 0; i < times; i++) faults.push(status);
    },
    clearFaults() {
      faults.length = 0;
    },
    waitForMessage(p = () => true, timeoutMs = 15_000) {
      const found = messages.find(p);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          p,
          resolve: (m: FakeMail) => {
            clearTimeout(t);
            resolve(m);
          },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching email within ${timeoutMs} ms (got ${messages.length})`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
