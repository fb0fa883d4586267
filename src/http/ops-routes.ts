import { renderMetrics } from '../metrics.js';
import type { Store } from '../ports/store.js';
import { type HttpRoutes, sendJson } from './server.js';

/** What the readiness probe looks at. */
export interface Readiness {
  store: Store;
  /** `ok` once auth.test accepted the bot token. */
  slackAuth(): 'pending' | 'ok' | 'failed';
  /** False once shutdown has begun. */
  accepting(): boolean;
}

/**
 * The operator's routes: `/healthz` (the process answers), `/readyz` (store reachable, Slack token verified, taking
 * work) and `/metrics` (Prometheus).
 */
export function registerOpsRoutes(routes: HttpRoutes, ready: Readiness): void {
  routes.add('GET', '/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
  routes.add('GET', '/readyz', async (_req, res) => {
    // With Sentinel, the ping goes to the primary ioredis is connected to: none reachable (mid-failover) → 503.
    const storeOk = await ready.store.ping().then(
      () => true,
      () => false,
    );
    const slackAuth = ready.slackAuth();
    const accepting = ready.accepting();
    sendJson(res, storeOk && slackAuth === 'ok' && accepting ? 200 : 503, {
      store: storeOk ? 'ok' : 'unavailable',
      slackAuth,
      accepting,
    });
  });
  routes.add('GET', '/metrics', async (_req, res) => {
    const { contentType, body } = await renderMetrics();
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}
