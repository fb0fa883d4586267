/**
 * `npm run doctor`: checks a deployment from the command line, with the same environment ward would start with.
 * Configuration, the Slack token and its scopes, Redis and its persistence, every inventory host over SSH with its
 * pinned key, MFA and the alert sources; prints a table and exits 1 when any check failed.
 *
 *   npm run doctor                 # reads .env in the working directory when present, like ward
 *   npm run -s doctor -- --json    # one JSON object per check, for scripts
 *   npm run -s doctor -- sudoers [--host web1] [--user ward]   # the sudoers file for a non-root account
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { parse as parseYamlText } from 'yaml';
import { commands } from '../../commands/index.js';
import { listRuleset } from '../actions/nft.js';
import { renderSudoers } from '../actions/sudoers.js';
import { NodeSshShell } from '../adapters/ssh/node-ssh-shell.js';
import { loadRules } from '../alerts/rules.js';
import { enabledAlertSources } from '../alerts/sources/registry.js';
import { type Config, loadConfig } from '../config/env.js';
import { type Inventory, inventorySchema, toInventory } from '../config/inventory.js';
import { policyFileSchema } from '../config/policy.js';
import { loadYamlFile, readConfigFile } from '../config/yaml-file.js';
import { ConfigError, UserInputError, WardError } from '../errors.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorOptions {
  /** Where slack/manifest.yaml and slack/manifest.socket-mode.yaml are (default: the project's slack/). */
  manifestDir?: string;
  /** Per network check (Slack, Redis; SSH uses WARD_SSH_CONNECT_TIMEOUT_MS). */
  timeoutMs?: number;
}

const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';
const DEFAULT_TIMEOUT_MS = 10_000;

/** slack/ beside src/ (running from src/cli under tsx) or beside dist/ (running dist/src/cli). */
function defaultManifestDir(): string {
  for (const up of ['../../slack/', '../../../slack/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(`${dir}manifest.yaml`)) return dir;
  }
  return fileURLToPath(new URL('../../slack/', import.meta.url));
}

function message(err: unknown): string {
  if (err instanceof WardError) return err.userMessage;
  return err instanceof Error ? err.message : String(err);
}

/** The bot scopes a manifest asks for. */
export function manifestScopes(path: string): string[] {
  const doc = parseYamlText(readConfigFile(path, 'Slack manifest', 'manifest')) as {
    oauth_config?: { scopes?: { bot?: unknown } };
  };
  const bot = doc.oauth_config?.scopes?.bot;
  return Array.isArray(bot) ? bot.filter((s): s is string => typeof s === 'string') : [];
}

async function slackCall(
  config: Config,
  method: string,
  token: string,
  timeoutMs: number,
): Promise<{ body: Record<string, unknown>; scopes: string | null }> {
  const base = config.SLACK_API_URL ?? DEFAULT_SLACK_API_URL;
  const res = await fetch(new URL(method, base.endsWith('/') ? base : `${base}/`), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`${method} answered HTTP ${res.status}`);
  return {
    body: (await res.json()) as Record<string, unknown>,
    scopes: res.headers.get('x-oauth-scopes'),
  };
}

async function checkSlack(config: Config, manifestDir: string, timeoutMs: number): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const manifest = `${manifestDir}${config.socketMode ? 'manifest.socket-mode.yaml' : 'manifest.yaml'}`;
  let auth: Awaited<ReturnType<typeof slackCall>>;
  try {
    auth = await slackCall(config, 'auth.test', config.SLACK_BOT_TOKEN, timeoutMs);
  } catch (err) {
    return [{ check: 'Slack bot token', status: 'fail', detail: `auth.test failed: ${message(err)}` }];
  }
  if (auth.body['ok'] !== true) {
    return [
      {
        check: 'Slack bot token',
        status: 'fail',
        detail: `Slack refused SLACK_BOT_TOKEN: ${String(auth.body['error'])} (reinstall the app and copy the Bot User OAuth Token)`,
      },
    ];
  }
  out.push({
    check: 'Slack bot token',
    status: 'ok',
    detail: `bot ${String(auth.body['user_id'])} in ${String(auth.body['team'] ?? auth.body['team_id'])}`,
  });

  let wanted: string[];
  try {
    wanted = manifestScopes(manifest);
  } catch (err) {
    out.push({ check: 'Slack scopes', status: 'warn', detail: `cannot read ${manifest}: ${message(err)}` });
    return out;
  }
  if (auth.scopes === null) {
    out.push({
      check: 'Slack scopes',
      status: 'warn',
      detail: 'Slack sent no x-oauth-scopes header: scopes not checked',
    });
  } else {
    const granted = new Set(auth.scopes.split(',').map((s) => s.trim()));
    const missing = wanted.filter((s) => !granted.has(s));
    out.push(
      missing.length === 0
        ? {
            check: 'Slack scopes',
            status: 'ok',
            detail: `all ${wanted.length} scopes of the manifest granted`,
          }
        : {
            check: 'Slack scopes',
            status: 'fail',
            detail: `missing ${missing.join(', ')} (add them under OAuth & Permissions, or re-create the app from ${manifest.split('/').slice(-2).join('/')}, then reinstall)`,
          },
    );
  }

  if (config.SLACK_APP_TOKEN !== undefined) {
    // apps.connections.open only hands out a WebSocket URL; nothing connects to it.
    try {
      const open = await slackCall(config, 'apps.connections.open', config.SLACK_APP_TOKEN, timeoutMs);
      out.push(
        open.body['ok'] === true
          ? {
              check: 'Slack app token (Socket Mode)',
              status: 'ok',
              detail: 'apps.connections.open accepted it',
            }
          : {
              check: 'Slack app token (Socket Mode)',
              status: 'fail',
              detail: `Slack refused SLACK_APP_TOKEN: ${String(open.body['error'])} (Basic Information → App-Level Tokens, scope connections:write; Socket Mode enabled)`,
            },
      );
    } catch (err) {
      out.push({ check: 'Slack app token (Socket Mode)', status: 'fail', detail: message(err) });
    }
  } else {
    out.push({
      check: 'Slack mode',
      status: 'ok',
      detail: 'HTTP: Slack must reach https://<your host>/slack/events (TLS in front of ward)',
    });
  }
  return out;
}

async function checkRedis(config: Config, timeoutMs: number): Promise<CheckResult> {
  if (config.REDIS_URL === undefined) {
    return {
      check: 'Redis',
      status: 'warn',
      detail: 'REDIS_URL unset: in-process store, state lost on restart, one replica only',
    };
  }
  const client = new Redis(config.REDIS_URL, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    let aof: boolean;
    let save = '';
    try {
      const [, appendonly] = (await client.call('CONFIG', 'GET', 'appendonly')) as string[];
      const [, saveValue] = (await client.call('CONFIG', 'GET', 'save')) as string[];
      aof = appendonly === 'yes';
      save = saveValue ?? '';
    } catch {
      // Managed Redis often disables CONFIG: INFO persistence still says whether the AOF is on.
      aof = /^aof_enabled:1\s*$/m.test(await client.info('persistence'));
    }
    if (aof) return { check: 'Redis', status: 'ok', detail: 'reachable; appendonly yes (persistent)' };
    if (save.trim() !== '') {
      return {
        check: 'Redis',
        status: 'warn',
        detail: `reachable; RDB snapshots only (save "${save}"): writes since the last snapshot are lost in a crash. Set appendonly yes`,
      };
    }
    return {
      check: 'Redis',
      status: 'fail',
      detail:
        'reachable but not persistent (appendonly no, no save points): a restart loses approvals, locks and the audit chain. Set appendonly yes',
    };
  } catch (err) {
    return { check: 'Redis', status: 'fail', detail: `cannot reach REDIS_URL: ${message(err)}` };
  } finally {
    client.disconnect();
  }
}

async function checkHosts(config: Config, inventory: Inventory): Promise<CheckResult[]> {
  const hosts = [...inventory.hosts.values()];
  const shell = new NodeSshShell({ connectTimeoutMs: config.WARD_SSH_CONNECT_TIMEOUT_MS });
  const results: CheckResult[] = new Array(hosts.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < hosts.length) {
      const i = next++;
      const host = hosts[i]!;
      const check = `host ${host.name}`;
      if (host.transport === 'local') {
        results[i] = { check, status: 'skip', detail: 'transport: local (no SSH)' };
        continue;
      }
      try {
        // Connecting verifies the pinned host key and ward's own key. A root login runs no command; a sudo
        // account runs one read-only command of its sudoers file, so a missing or stale file shows here and
        // not in the middle of a lockdown.
        const session = await shell.connect(host);
        let sudo = '';
        try {
          if (host.sudo) {
            const r = await session.exec(listRuleset.argv, {
              timeoutMs: config.WARD_SSH_CONNECT_TIMEOUT_MS,
              maxOutputBytes: 64 * 1024,
            });
            if (r.code !== 0) {
              const why = r.stderr.toString('utf8').trim().split('\n')[0]?.slice(0, 200) || `exit ${r.code}`;
              throw new UserInputError(
                `logged in as ${host.user}, but sudo refused \`nft list ruleset\` (${why}): install the sudoers file from \`npm run -s doctor -- sudoers --host ${host.name}\` on the host`,
              );
            }
            sudo = ', sudo ok';
          }
        } finally {
          await session.close();
        }
        results[i] = {
          check,
          status: 'ok',
          detail: `${host.user}@${host.address}:${host.port}, host key ${host.hostKey.slice(0, 19)}… matches${sudo}`,
        };
      } catch (err) {
        results[i] = { check, status: 'fail', detail: message(err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.WARD_SSH_CONCURRENCY, hosts.length) }, worker));
  return results;
}

function checkMfa(config: Config): CheckResult {
  if (config.WARD_MFA_PROVIDER === 'duo') {
    return { check: 'MFA', status: 'ok', detail: `Duo push via ${config.DUO_API_HOST}` };
  }
  return config.WARD_ENCRYPTION_KEY === undefined
    ? {
        check: 'MFA',
        status: 'fail',
        detail:
          'TOTP without WARD_ENCRYPTION_KEY: MFA is off and commands whose policy needs it are refused (openssl rand -hex 32)',
      }
    : {
        check: 'MFA',
        status: 'ok',
        detail: 'TOTP; WARD_ENCRYPTION_KEY set (keep a copy: enrolments need it)',
      };
}

function checkAlerts(config: Config): CheckResult {
  const sources = enabledAlertSources(config);
  if (config.WARD_ALERT_DEFAULT_CHANNEL === undefined) {
    return sources.length === 0
      ? { check: 'alert sources', status: 'ok', detail: 'alert relay off (no WARD_ALERT_DEFAULT_CHANNEL)' }
      : {
          check: 'alert sources',
          status: 'warn',
          detail: `tokens set for ${sources.join(', ')} but the relay is off: set WARD_ALERT_DEFAULT_CHANNEL`,
        };
  }
  return sources.length === 0
    ? {
        check: 'alert sources',
        status: 'warn',
        detail: 'relay on but no source enabled: set WARD_ALERT_TOKEN_<SOURCE> for each sender',
      }
    : { check: 'alert sources', status: 'ok', detail: `enabled: ${sources.join(', ')} on /alerts/<source>` };
}

/** Runs every check; never throws (a problem is a `fail` row). */
export async function runDoctor(
  env: Record<string, string | undefined> = process.env,
  options: DoctorOptions = {},
): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems.join('; ') : message(err);
    return [{ check: 'configuration', status: 'fail', detail: problems }];
  }
  const results: CheckResult[] = [{ check: 'configuration', status: 'ok', detail: 'environment valid' }];

  if (config.WARD_POLICY === undefined) {
    results.push({
      check: 'policy file',
      status: 'warn',
      detail: 'WARD_POLICY unset: only read-only commands such as help are allowed',
    });
  } else {
    try {
      loadYamlFile(config.WARD_POLICY, policyFileSchema, 'policy file', 'WARD_POLICY');
      results.push({ check: 'policy file', status: 'ok', detail: `${config.WARD_POLICY}: valid` });
    } catch (err) {
      results.push({ check: 'policy file', status: 'fail', detail: problemsOf(err) });
    }
  }

  let inventory: Inventory | undefined;
  if (config.WARD_INVENTORY === undefined) {
    results.push({ check: 'inventory file', status: 'warn', detail: 'WARD_INVENTORY unset: no hosts' });
  } else {
    try {
      inventory = toInventory(
        loadYamlFile(config.WARD_INVENTORY, inventorySchema, 'inventory file', 'WARD_INVENTORY'),
      );
      results.push({
        check: 'inventory file',
        status: 'ok',
        detail: `${config.WARD_INVENTORY}: ${inventory.hosts.size} hosts`,
      });
    } catch (err) {
      results.push({ check: 'inventory file', status: 'fail', detail: problemsOf(err) });
    }
  }

  if (config.WARD_RULES !== undefined) {
    try {
      const rules = loadRules(
        readConfigFile(config.WARD_RULES, 'Alert rules', 'WARD_RULES'),
        config.WARD_RULES,
        {
          commands: commands.map((c) => c.name),
        },
      );
      results.push({
        check: 'rules file',
        status: 'ok',
        detail: `${config.WARD_RULES}: ${rules.rules.length} rules`,
      });
    } catch (err) {
      results.push({ check: 'rules file', status: 'fail', detail: problemsOf(err) });
    }
  }

  const [slack, redis, hosts] = await Promise.all([
    checkSlack(config, options.manifestDir ?? defaultManifestDir(), timeoutMs),
    checkRedis(config, timeoutMs),
    inventory ? checkHosts(config, inventory) : Promise.resolve([]),
  ]);
  results.push(...slack, redis, ...hosts, checkMfa(config), checkAlerts(config));
  return results;
}

function problemsOf(err: unknown): string {
  return err instanceof ConfigError
    ? `${err.userMessage.split('\n')[0]} ${err.problems.join('; ')}`
    : message(err);
}

const MARK: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** A plain-text table: check, status, detail. */
export function renderTable(results: readonly CheckResult[]): string {
  const width = Math.max(5, ...results.map((r) => r.check.length));
  const lines = results.map((r) => `${r.check.padEnd(width)}  ${MARK[r.status].padEnd(4)}  ${r.detail}`);
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  return [
    `${'check'.padEnd(width)}  stat  detail`,
    ...lines,
    '',
    failed > 0
      ? `${failed} check${failed === 1 ? '' : 's'} failed, ${warned} warning${warned === 1 ? '' : 's'}`
      : `all checks passed, ${warned} warning${warned === 1 ? '' : 's'}`,
    '',
  ].join('\n');
}

/**
 * `doctor sudoers`: the sudoers file for the non-root account ward logs in as on hosts with `sudo: true`, for this
 * configuration (the lockdown watchdog's seconds) and inventory (the host's persistence directories and user).
 * Without --host, the inventory's `sudo: true` hosts must all share one user and one set of directories.
 */
export function sudoersFor(env: NodeJS.ProcessEnv, args: readonly string[]): string {
  const options = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]!;
    const value = args[i + 1];
    if (name !== '--host' && name !== '--user') {
      throw new UserInputError(
        `unexpected ${JSON.stringify(name)}: use [--host <inventory host>] [--user <account>]`,
      );
    }
    if (value === undefined || value.startsWith('--')) throw new UserInputError(`${name} needs a value`);
    options.set(name, value);
  }
  const option = (name: string): string | undefined => options.get(name);
  const config = loadConfig(env);
  const hostName = option('--host');
  const inventory =
    config.WARD_INVENTORY === undefined
      ? undefined
      : toInventory(loadYamlFile(config.WARD_INVENTORY, inventorySchema, 'inventory file', 'WARD_INVENTORY'));
  let host: { user: string; persist?: { unitDir: string; stateDir: string } | undefined } = { user: 'ward' };
  if (hostName !== undefined) {
    const found = inventory?.hosts.get(hostName);
    if (!found) throw new UserInputError(`${JSON.stringify(hostName)} is not a host of the inventory`);
    host = found;
  } else if (inventory) {
    const sudoHosts = [...inventory.hosts.values()].filter((h) => h.sudo);
    const shapes = new Set(sudoHosts.map((h) => JSON.stringify([h.user, h.persist])));
    if (shapes.size > 1) {
      throw new UserInputError(
        'the sudo hosts of the inventory differ in user or persist directories: run this once per host with --host <name>',
      );
    }
    if (sudoHosts[0]) host = sudoHosts[0];
  }
  const user = option('--user') ?? host.user;
  if (user === 'root')
    throw new UserInputError('the account is root: it needs no sudoers file (set user: ward)');
  return renderSudoers(user, { confirmSeconds: config.WARD_LOCKDOWN_CONFIRM_SECONDS, host });
}

async function cli(): Promise<void> {
  // The same .env ward reads; real environment variables win.
  if (existsSync('.env')) process.loadEnvFile('.env');
  if (process.argv[2] === 'sudoers') {
    try {
      process.stdout.write(sudoersFor(process.env, process.argv.slice(3)));
      process.exit(0);
    } catch (err) {
      process.stderr.write(`ward doctor sudoers: ${problemsOf(err)}\n`);
      process.exit(2);
    }
  }
  const results = await runDoctor(process.env);
  if (process.argv.includes('--json')) {
    for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
  } else {
    process.stdout.write(renderTable(results));
  }
  process.exit(results.some((r) => r.status === 'fail') ? 1 : 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void cli();
}
