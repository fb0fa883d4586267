/**
 * A lab of real servers on this machine for integration tests: real OpenSSH sshd and real nftables, each target in
 * its own network namespace plus PID/UTS/mount namespaces (hostname, `ps`, /tmp, /run and /var/log are its own),
 * all joined by a bridge that lives in a namespace of its own. The root namespace gets no interface and no route;
 * no namespace has a default route, so a mistake answers "network unreachable" instead of leaving the machine.
 *
 * Needs root and iproute2, nftables, openssh-server, util-linux (unshare, nsenter), python3. See docs/testing.md for how the lab is built.
 * for the recipe this follows. Namespace names carry a random lab id, so several test files can run labs at once.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

export const LAB_NET = '198.51.100';
export const MGMT_ADDRESS = `${LAB_NET}.1` as const;
export const ATTACKER_ADDRESS = `${LAB_NET}.66`;
const FIRST_HOST_OCTET = 11;
const MAX_HOSTS = 40;
/** How long the lab waits for every host's sshd and HTTP listener: seconds on a quiet machine, far more on a loaded one. */
const READY_SECONDS = 90;

export interface LabHost {
  /** Inventory name and the host's own hostname, e.g. `web1`. */
  name: string;
  /** Network namespace the host lives in. */
  ns: string;
  address: string;
  /** `SHA256:…` of the host's fresh ed25519 key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** sshd's log file (`-E`), readable from the test process. */
  sshdLog: string;
}

export interface ExecOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Lab {
  id: string;
  /** A private temp dir holding keys, configs and logs. */
  dir: string;
  mgmt: { ns: string; address: typeof MGMT_ADDRESS };
  attacker: { ns: string; address: string };
  hosts: LabHost[];
  /** Private key authorised as root on every host. */
  wardKeyPath: string;
  /** argv for RemoteShell's proxyCommand: carries an SSH connection from inside the mgmt namespace (%h %p). */
  proxyCommand: string[];
  /** An inventory YAML text for these hosts (management 198.51.100.1/32, defaults root/22/wardKeyPath/proxy). */
  inventoryYaml(extra?: { tags?: Record<string, string[]> }): string;
  /** TCP connect from inside a namespace; false on refusal, unreachability or timeout. */
  canConnect(fromNs: string, address: string, port: number, timeoutMs?: number): Promise<boolean>;
  exec(ns: string, argv: string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<ExecOutput>;
  /** Runs argv inside a target host's network, PID, mount and UTS namespaces. */
  execOnHost(
    name: string,
    argv: string[],
    opts?: { stdin?: string; timeoutMs?: number },
  ): Promise<ExecOutput>;
  /** Starts a detached process on the host (e.g. a copy of /bin/sleep in the host's /tmp); returns its pid there. */
  spawnOnHost(name: string, argv: string[]): Promise<number>;
  /** Stops the host's sshd listener (the rest of the host keeps running), so new connections are refused. */
  stopSshd(name: string): Promise<void>;
  /** Idempotent: kills only processes it started and those inside its namespaces, deletes its namespaces and dir. */
  down(): Promise<void>;
}

const SBIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const REQUIRED = [
  'ip',
  'nft',
  'sshd',
  'ssh-keygen',
  'unshare',
  'nsenter',
  'python3',
  'bash',
  'timeout',
] as const;
type Tool = (typeof REQUIRED)[number];

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...SBIN_PATH.split(':')];
  // python3 from pyenv shims would start pyenv: always prefer the system interpreter for the lab's init.
  if (name === 'python3' && existsSync('/usr/bin/python3')) return '/usr/bin/python3';
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

let tools: Record<Tool, string> | undefined;

/** Whether this machine can run the lab: root plus the binaries it needs. */
export function labAvailable(): { ok: true } | { ok: false; why: string } {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { ok: false, why: 'the lab needs root (network, PID and mount namespaces, nftables)' };
  }
  const found: Partial<Record<Tool, string>> = {};
  const missing: string[] = [];
  for (const t of REQUIRED) {
    const p = findBinary(t);
    if (p) found[t] = p;
    else missing.push(t);
  }
  if (missing.length > 0) {
    return {
      ok: false,
      why: `missing ${missing.join(', ')} (apt-get install -y iproute2 nftables openssh-server util-linux python3)`,
    };
  }
  tools = found as Record<Tool, string>;
  return { ok: true };
}

/** Throws when the lab cannot run and `CI` is set (to anything but empty, 0 or false). */
export function refuseLabSkipInCi(
  name: string,
  available: { ok: true } | { ok: false; why: string },
  env: Record<string, string | undefined>,
): void {
  const ci = env['CI'];
  if (available.ok || ci === undefined || ['', '0', 'false'].includes(ci)) return;
  throw new Error(
    `LAB TESTS CANNOT RUN under CI: "${name}": ${available.why}. Run CI as root with the lab packages (.ci/run installs them); a skipped security test is a failed one.`,
  );
}

/**
 * `describe` for a lab test file: when the lab cannot run, says so loudly (console.warn with the reason) and
 * skips the block. Never skips silently. Under CI (`CI` set, as .ci/run and CI services do) a lab that cannot run
 * is a failure: the security behaviour these tests prove would otherwise go unproven while the run stays green.
 */
export function describeLab(name: string, fn: () => void): void {
  const available = labAvailable();
  refuseLabSkipInCi(name, available, process.env);
  if (!available.ok) {
    console.warn(
      `\n${'!'.repeat(78)}\n!! LAB TESTS SKIPPED: "${name}"\n!! reason: ${available.why}\n!! These tests need root and real sshd/nftables; they did NOT run.\n${'!'.repeat(78)}\n`,
    );
  }
  describe.skipIf(!available.ok)(name, fn);
}

function requireTools(): Record<Tool, string> {
  const available = labAvailable();
  if (!available.ok) throw new Error(`lab unavailable: ${available.why}`);
  return tools!;
}

interface RunOptions {
  stdin?: string | undefined;
  timeoutMs?: number | undefined;
}

/** Runs a program (argv, no shell) and collects its output; kills it (SIGKILL) on timeout. */
function run(argv: string[], opts: RunOptions = {}): Promise<ExecOutput> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) {
      reject(new Error('empty argv'));
      return;
    }
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PATH: SBIN_PATH },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {}); // the program may exit without reading stdin
    child.stdin.end(opts.stdin ?? '');
    const timer =
      opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

async function runOk(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// PID 1 of every target: serves HTTP on 8080 (reachability probe), runs sshd -D, and reaps every orphan (so a
// watchdog that exits does not linger as a zombie that `kill -0` would still find).
const INIT_PY = `
import functools, http.server, os, subprocess, sys, threading, time
d = sys.argv[1]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(('0.0.0.0', 8080), functools.partial(Quiet, directory='/run/lab/www'))
threading.Thread(target=srv.serve_forever, daemon=True).start()
subprocess.Popen(['/usr/sbin/sshd', '-D', '-f', d + '/sshd_config', '-E', '/var/log/auth.log'], stdin=subprocess.DEVNULL)
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        time.sleep(0.5)
`;

// Runs inside `unshare --mount --uts --pid --fork`: private hostname, /run, /tmp, /var/log and a clean .bashrc.
// The lab dir is bind-mounted at /run/lab before /tmp is covered, so sshd keeps reading keys from it.
// /etc is an overlay whose upper layer is on the host's private /run tmpfs: whatever ward installs on a lab host
// (its boot-time ruleset, a systemd unit, the enablement link) never reaches this machine's /etc and vanishes with
// the lab. ward's persistence directories are, in addition, tmpfs of their own (empty: only what ward writes).
const TARGET_SETUP_SH = `
hostname "$HOST_NAME"
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -m 0755 /run/sshd /run/lab /run/etc-upper /run/etc-work
mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/etc-upper,workdir=/run/etc-work /etc
mkdir -p /etc/ward /etc/systemd/system
mount -t tmpfs -o mode=0700 tmpfs /etc/ward
mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system
mount --bind "$LAB_DIR" /run/lab
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount --bind "/run/lab/$HOST_NAME/log" /var/log
if [ -e /root/.bashrc ]; then mount --bind /run/lab/bashrc /root/.bashrc; fi
exec "$PYTHON" /run/lab/init.py "/run/lab/$HOST_NAME"
`;

function sshdConfig(hostName: string, logLevel: string): string {
  return [
    'ListenAddress 0.0.0.0',
    'Port 22',
    `HostKey /run/lab/${hostName}/ssh_host_ed25519_key`,
    'PidFile /run/sshd.pid',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile /run/lab/authorized_keys',
    // keys sit under a world-writable temp dir: StrictModes would refuse them
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'UseDNS no',
    // the defaults (10:30:100, 10) drop parallel connections and channels in fan-out tests
    'MaxStartups 100:30:200',
    'MaxSessions 20',
    `LogLevel ${logLevel}`,
    '',
  ].join('\n');
}

interface HostState extends LabHost {
  init?: ChildProcess | undefined;
  initPid?: number | undefined;
}

/** Brings up a lab: mgmt (198.51.100.1), attacker (.66) and targets .11, .12, … (web1, web2, … by default). */
export async function labUp(opts: {
  hosts: number | string[];
  id?: string;
  /** sshd LogLevel (default VERBOSE; DEBUG2 shows channel requests when debugging the adapter). */
  sshdLogLevel?: 'QUIET' | 'INFO' | 'VERBOSE' | 'DEBUG1' | 'DEBUG2' | 'DEBUG3';
}): Promise<Lab> {
  const bin = requireTools();
  const names =
    typeof opts.hosts === 'number' ? Array.from({ length: opts.hosts }, (_, i) => `web${i + 1}`) : opts.hosts;
  if (names.length < 1 || names.length > MAX_HOSTS) throw new Error(`a lab has 1..${MAX_HOSTS} hosts`);
  for (const n of names) {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(n)) throw new Error(`bad lab host name ${JSON.stringify(n)}`);
  }
  if (new Set(names).size !== names.length) throw new Error('lab host names must be unique');

  const id = opts.id ?? randomBytes(2).toString('hex');
  if (!/^[a-z0-9]{1,8}$/.test(id)) throw new Error('lab id: 1-8 lowercase letters or digits');
  const prefix = `wl${id}`;
  const dir = mkdtempSync(join(tmpdir(), `ward-lab-${id}-`));
  const brNs = `${prefix}-br`;
  const mgmtNs = `${prefix}-mgmt`;
  const attNs = `${prefix}-att`;
  const hosts: HostState[] = names.map((name, i) => ({
    name,
    ns: `${prefix}-h${i + 1}`,
    address: `${LAB_NET}.${FIRST_HOST_OCTET + i}`,
    hostKeyFingerprint: '',
    sshdLog: join(dir, name, 'log', 'auth.log'),
  }));
  const createdNs: string[] = [];
  const wardKeyPath = join(dir, 'ward_ed25519');
  const tcpStdio = fileURLToPath(new URL('./tcp-stdio.mjs', import.meta.url));
  let isDown = false;

  const hostByName = (name: string): HostState => {
    const h = hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  };
  const initPidOf = (name: string): number => {
    const h = hostByName(name);
    if (h.initPid === undefined) throw new Error(`lab host ${name} is not running`);
    return h.initPid;
  };

  // Synchronous best-effort teardown, also used from process 'exit' where nothing async runs.
  const teardownSync = (): void => {
    if (isDown) return;
    isDown = true;
    process.removeListener('exit', teardownSync);
    for (const h of hosts) {
      // SIGKILL to unshare: --kill-child then SIGKILLs the target's PID 1, which takes its whole PID ns down.
      if (h.init?.pid !== undefined && h.init.exitCode === null && h.init.signalCode === null) {
        try {
          process.kill(h.init.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const ns of [...createdNs].reverse()) {
      try {
        const pids = execFileSync(bin.ip, ['netns', 'pids', ns], { encoding: 'utf8', stdio: 'pipe' })
          .split(/\s+/)
          .filter(Boolean)
          .map(Number);
        for (const pid of pids) {
          if (pid > 1 && pid !== process.pid) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
        }
      } catch {
        // namespace already gone
      }
    }
    if (createdNs.length > 0) {
      try {
        execFileSync(bin.ip, ['-force', '-batch', '-'], {
          input: createdNs.map((ns) => `netns del ${ns}\n`).join(''),
          stdio: ['pipe', 'ignore', 'ignore'],
        });
      } catch {
        // some were already gone; -force carried on with the rest
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', teardownSync);

  const exec = (ns: string, argv: string[], o: RunOptions = {}): Promise<ExecOutput> =>
    run([bin.ip, 'netns', 'exec', ns, ...argv], o);

  const nsenterArgs = (name: string): string[] => [
    bin.nsenter,
    '-t',
    String(initPidOf(name)),
    '--net',
    '--pid',
    '--mount',
    '--uts',
    '--ipc',
    '--root',
    '--wd',
    '--',
  ];

  const canConnect = async (
    fromNs: string,
    address: string,
    port: number,
    timeoutMs = 1000,
  ): Promise<boolean> => {
    const r = await run(
      [
        bin.ip,
        'netns',
        'exec',
        fromNs,
        bin.timeout,
        '-s',
        'KILL',
        String(timeoutMs / 1000),
        bin.bash,
        '-c',
        'exec 3<>"/dev/tcp/$0/$1"',
        address,
        String(port),
      ],
      { timeoutMs: timeoutMs + 5000 },
    );
    return r.code === 0;
  };

  const lab: Lab = {
    id,
    dir,
    mgmt: { ns: mgmtNs, address: MGMT_ADDRESS },
    attacker: { ns: attNs, address: ATTACKER_ADDRESS },
    hosts,
    wardKeyPath,
    proxyCommand: [bin.ip, 'netns', 'exec', mgmtNs, process.execPath, tcpStdio, '%h', '%p'],
    inventoryYaml(extra) {
      const q = (s: string): string => JSON.stringify(s); // JSON strings are valid YAML scalars
      const lines = [
        'management:',
        `  cidrs: [${q(`${MGMT_ADDRESS}/32`)}]`,
        'defaults:',
        '  user: root',
        '  port: 22',
        `  key: ${q(wardKeyPath)}`,
        `  proxyCommand: [${this.proxyCommand.map(q).join(', ')}]`,
        'hosts:',
      ];
      for (const h of hosts) {
        const tags = ['lab', ...(extra?.tags?.[h.name] ?? [])];
        lines.push(
          `  ${h.name}:`,
          `    address: ${q(h.address)}`,
          `    hostKey: ${q(h.hostKeyFingerprint)}`,
          `    tags: [${tags.map(q).join(', ')}]`,
        );
      }
      return `${lines.join('\n')}\n`;
    },
    canConnect,
    exec,
    execOnHost: (name, argv, o = {}) => run([...nsenterArgs(name), ...argv], o),
    async spawnOnHost(name, argv) {
      // setsid detaches it from the short-lived sh; the target's PID 1 adopts and eventually reaps it.
      const out = await runOk(
        [
          ...nsenterArgs(name),
          '/bin/sh',
          '-c',
          'setsid "$@" </dev/null >/dev/null 2>&1 & echo $!',
          'sh',
          ...argv,
        ],
        { timeoutMs: 10_000 },
      );
      const pid = Number(out.trim());
      if (!Number.isInteger(pid) || pid < 1) throw new Error(`spawnOnHost: unexpected output ${out}`);
      return pid;
    },
    async stopSshd(name) {
      const h = hostByName(name);
      // sshd's PidFile is in the host's private /run; killing the listener leaves PID 1 and HTTP running.
      await runOk([...nsenterArgs(name), '/bin/sh', '-c', 'kill "$(cat /run/sshd.pid)"'], {
        timeoutMs: 10_000,
      });
      for (let i = 0; i < 100; i++) {
        if (!(await canConnect(mgmtNs, h.address, 22, 500))) return;
        await sleep(50);
      }
      throw new Error(`sshd on ${name} still accepts connections`);
    },
    async down() {
      teardownSync();
    },
  };

  try {
    // ---- keys and configs (ssh-keygen in parallel) -----------------------------------------------------------
    await writeFile(join(dir, 'bashrc'), '# lab target: clean root .bashrc\n');
    await writeFile(join(dir, 'init.py'), INIT_PY);
    await mkdir(join(dir, 'www'));
    await writeFile(join(dir, 'www', 'index.html'), 'hello from a ward lab host\n');
    const keygen = (path: string, comment: string): Promise<string> =>
      runOk([bin['ssh-keygen'], '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
    await Promise.all([
      keygen(wardKeyPath, `ward-lab-${id}`),
      ...hosts.map(async (h) => {
        await mkdir(join(dir, h.name, 'log'), { recursive: true });
        await writeFile(join(dir, h.name, 'sshd_config'), sshdConfig(h.name, opts.sshdLogLevel ?? 'VERBOSE'));
        await keygen(join(dir, h.name, 'ssh_host_ed25519_key'), `lab-${h.name}-hostkey`);
        // ssh-keygen's own output (not our hash of the blob), so the adapter's fingerprinting is checked against it.
        const listed = await runOk([bin['ssh-keygen'], '-lf', join(dir, h.name, 'ssh_host_ed25519_key.pub')]);
        const fp = listed.split(/\s+/)[1] ?? '';
        if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(fp))
          throw new Error(`unexpected ssh-keygen -lf output: ${listed}`);
        h.hostKeyFingerprint = fp;
      }),
    ]);
    await writeFile(join(dir, 'authorized_keys'), readFileSync(`${wardKeyPath}.pub`));

    // ---- network: namespaces, veth pairs created directly inside them, one bridge in its own namespace -------
    const allNs = [brNs, mgmtNs, attNs, ...hosts.map((h) => h.ns)];
    const members: { ns: string; port: string; address: string }[] = [
      { ns: mgmtNs, port: 'p-mgmt', address: MGMT_ADDRESS },
      { ns: attNs, port: 'p-att', address: ATTACKER_ADDRESS },
      ...hosts.map((h, i) => ({ ns: h.ns, port: `p-h${i + 1}`, address: h.address })),
    ];
    for (const ns of allNs) {
      if (existsSync(`/run/netns/${ns}`)) throw new Error(`namespace ${ns} already exists (lab id clash)`);
    }
    // Record before creating: a failed batch may have created some, and down() deletes with -force.
    createdNs.push(...allNs);
    await runOk([bin.ip, '-batch', '-'], {
      stdin: [
        ...allNs.map((ns) => `netns add ${ns}`),
        ...members.map((m) => `link add eth0 netns ${m.ns} type veth peer name ${m.port} netns ${brNs}`),
      ]
        .map((l) => `${l}\n`)
        .join(''),
    });
    await Promise.all([
      runOk([bin.ip, '-n', brNs, '-batch', '-'], {
        stdin: [
          'link set lo up',
          'link add br0 type bridge',
          'link set br0 up',
          ...members.map((m) => `link set ${m.port} master br0 up`),
        ]
          .map((l) => `${l}\n`)
          .join(''),
      }),
      ...members.map((m) =>
        runOk([bin.ip, '-n', m.ns, '-batch', '-'], {
          stdin: `link set lo up\naddr add ${m.address}/24 dev eth0\nlink set eth0 up\n`,
        }),
      ),
    ]);

    // ---- targets: unshare'd PID/UTS/mount namespaces running init (HTTP + sshd) ----------------------------
    for (const h of hosts) {
      const out = join(dir, h.name, 'init.out');
      const fd = openSync(out, 'a');
      const child = spawn(
        bin.ip,
        [
          'netns',
          'exec',
          h.ns,
          bin.unshare,
          '--mount',
          '--uts',
          '--pid',
          '--ipc',
          '--fork',
          '--kill-child',
          '--mount-proc',
          '/bin/sh',
          '-ec',
          TARGET_SETUP_SH,
        ],
        {
          stdio: ['ignore', fd, fd],
          env: {
            PATH: SBIN_PATH,
            HOST_NAME: h.name,
            LAB_DIR: dir,
            PYTHON: bin.python3,
            HOME: '/root',
            LANG: 'C.UTF-8',
          },
        },
      );
      closeSync(fd);
      child.on('error', () => {});
      h.init = child;
    }

    // ---- readiness: probe sshd (banner) and HTTP from inside mgmt, one bash for all hosts --------------------
    const probe = `
for a in "$@"; do
  until (exec 3<>"/dev/tcp/$a/22" && head -c 7 <&3 | grep -q SSH-2.0) 2>/dev/null \
     && (exec 3<>"/dev/tcp/$a/8080") 2>/dev/null; do sleep 0.02; done
done`;
    const ready = await run(
      [
        bin.ip,
        'netns',
        'exec',
        mgmtNs,
        bin.timeout,
        '-s',
        'KILL',
        String(READY_SECONDS),
        bin.bash,
        '-c',
        probe,
        'probe',
        ...hosts.map((h) => h.address),
      ],
      { timeoutMs: (READY_SECONDS + 5) * 1000 },
    );
    if (ready.code !== 0) {
      const logs = hosts
        .map((h) => {
          const p = join(dir, h.name, 'init.out');
          return existsSync(p) ? `${h.name}: ${readFileSync(p, 'utf8').trim()}` : '';
        })
        .filter(Boolean)
        .join('\n');
      throw new Error(`lab hosts did not come up within ${READY_SECONDS} s\n${logs}`);
    }

    // PID 1 of each target (its init), for nsenter: the only child of the unshare process.
    for (const h of hosts) {
      const upid = h.init?.pid;
      const kids =
        upid === undefined ? '' : readFileSync(`/proc/${upid}/task/${upid}/children`, 'utf8').trim();
      const pid = Number(kids.split(/\s+/)[0]);
      if (!Number.isInteger(pid) || pid < 2) throw new Error(`cannot find PID 1 of lab host ${h.name}`);
      h.initPid = pid;
    }
  } catch (err) {
    teardownSync();
    throw err;
  }
  return lab;
}
