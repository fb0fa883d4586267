/**
 * The Dockerfile builds and the image runs: podman builds it offline from a base made locally
 * (test/container/build-base.sh: Debian bookworm from the apt mirror plus this machine's Node.js), selected with the
 * BASE_IMAGE build argument, then the container must answer /healthz as a non-root user.
 *
 * Opt-in (minutes, root, podman and debootstrap): WARD_TEST_CONTAINER=1 npm test -- test/container
 * Without it the file skips at once and says so.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENABLED = process.env['WARD_TEST_CONTAINER'] === '1';
const BASE = 'localhost/ward-base:bookworm';
const IMAGE = 'localhost/ward:test';
const CONTAINER = `ward-test-${process.pid}`;

if (!ENABLED) {
  console.warn(
    '\n*** test/container SKIPPED: the image test builds the Dockerfile with podman (minutes, root).\n' +
      '*** Run it with: WARD_TEST_CONTAINER=1 npm test -- test/container   (needs apt-get install podman debootstrap runc)\n',
  );
}

/**
 * Flags for `podman build` and `podman run` that this kind of machine needs, harmless elsewhere: its cgroups are
 * hybrid v1 (crun refuses them: "cgroups in hybrid mode not supported", runc copes) and its hard RLIMIT_NOFILE is
 * below podman's default (setrlimit: Operation not permitted), so the limits are set explicitly.
 */
const RUNTIME =
  spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).status === 0 ? ['--runtime', 'runc'] : [];
const LIMITS = ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];

async function podman(args: string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('podman', [...RUNTIME, ...args], {
    cwd: ROOT,
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.trim();
}

/**
 * Where this machine reaches the npm registry through a TLS-inspecting proxy, its CA (NODE_EXTRA_CA_CERTS) is
 * lent to the build's npm through a bind-mounted npmrc: nothing of it ends up in the image.
 */
function trustHostCa(): string[] {
  const ca = process.env['NODE_EXTRA_CA_CERTS'];
  if (!ca || !existsSync(ca)) return [];
  const npmrc = join(mkdtempSync(join(tmpdir(), 'ward-npmrc-')), 'npmrc');
  writeFileSync(npmrc, 'cafile=/run/host-ca.crt\n');
  return ['--volume', `${ca}:/run/host-ca.crt:ro`, '--volume', `${npmrc}:/root/.npmrc:ro`];
}

describe.skipIf(!ENABLED)('container image (podman, offline base)', () => {
  let port = 0;

  beforeAll(async () => {
    const started = Date.now();
    const base = spawnSync('bash', ['test/container/build-base.sh', BASE], { cwd: ROOT, encoding: 'utf8' });
    if (base.status !== 0) throw new Error(`build-base.sh failed:\n${base.stdout}\n${base.stderr}`);
    // --network host: npm ci in the build stages reaches the npm registry; the npm cache is this machine's, so
    // a warm cache makes the build quick. --format docker keeps HEALTHCHECK (the OCI format drops it).
    await podman(
      [
        'build',
        ...trustHostCa(),
        ...LIMITS,
        '--format',
        'docker',
        '--network',
        'host',
        '--build-arg',
        `BASE_IMAGE=${BASE}`,
        '--volume',
        `${homedir()}/.npm:/root/.npm`,
        '-t',
        IMAGE,
        '.',
      ],
      20 * 60_000,
    );
    port = await freePort();
    await podman([
      'run',
      ...LIMITS,
      '-d',
      '--name',
      CONTAINER,
      '--network',
      'host',
      '-e',
      `PORT=${port}`,
      '-e',
      'WARD_BIND=127.0.0.1',
      '-e',
      'SLACK_BOT_TOKEN=xoxb-container-test',
      '-e',
      'SLACK_SIGNING_SECRET=container-test-secret',
      // Nothing listens there: ward logs that auth.test failed and keeps serving /healthz.
      '-e',
      'SLACK_API_URL=http://127.0.0.1:9/api/',
      IMAGE,
    ]);
    console.log(`container: base + build + run in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 30 * 60_000);

  afterAll(async () => {
    await podman(['rm', '-f', '-t', '2', CONTAINER]).catch(() => {});
  });

  it('answers /healthz from the compiled JavaScript', async () => {
    const deadline = Date.now() + 60_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    if (status !== 200) console.log(await podman(['logs', CONTAINER]).catch((e) => String(e)));
    expect(status).toBe(200);
    expect(await podman(['exec', CONTAINER, 'cat', '/proc/1/cmdline'])).toMatch(/^node\0dist\/src\/main\.js/);
  }, 90_000);

  it('runs as a non-root user', async () => {
    expect(await podman(['exec', CONTAINER, 'id', '-un'])).toBe('ward');
    expect(await podman(['exec', CONTAINER, 'id', '-u'])).not.toBe('0');
  });

  it('declares its port, evidence volume and health check, and ships no dev dependencies', async () => {
    const [image] = JSON.parse(await podman(['image', 'inspect', IMAGE])) as Array<{
      Config: { ExposedPorts?: Record<string, unknown>; Volumes?: Record<string, unknown>; User?: string };
      Healthcheck?: { Test?: string[] };
    }>;
    expect(Object.keys(image?.Config.ExposedPorts ?? {})).toContain('3000/tcp');
    expect(Object.keys(image?.Config.Volumes ?? {})).toContain('/var/lib/ward/evidence');
    expect(image?.Config.User).toBe('ward');
    expect(image?.Healthcheck?.Test?.join(' ')).toContain('/healthz');
    // The HEALTHCHECK command itself passes inside the running container.
    await podman(['healthcheck', 'run', CONTAINER]);
    const modules = await podman(['exec', CONTAINER, 'ls', 'node_modules']);
    expect(modules.split('\n')).not.toContain('typescript');
    expect(modules.split('\n')).not.toContain('tsx');
  }, 60_000);
});
