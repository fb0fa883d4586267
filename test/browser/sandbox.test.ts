/**
 * The sandbox in a real browser: `npm run sandbox` started as a person starts it (a separate process, no
 * configuration), driven by headless Chromium from Debian (`apt-get install chromium`, .ci/run installs it) through
 * playwright-core. Each step is what a person trying ward would do and see; screenshots of each step go to
 * test/.artifacts/screenshots/ for people (and reviewers) to look at. With UPDATE_SCREENSHOTS=1 they go to
 * docs/screenshots/, where the README's three are committed (a test run leaves the tracked files alone).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS =
  process.env['UPDATE_SCREENSHOTS'] === '1'
    ? `${ROOT}docs/screenshots/`
    : `${ROOT}test/.artifacts/screenshots/`;
const CHROMIUM = '/usr/bin/chromium';
/** Generous: forensics reads real data from this machine, and the machine is a busy 2-core one. */
const STEP_TIMEOUT_MS = 45_000;

let sandbox: ChildProcess;
let url: string;
let browser: Browser;
let page: Page;
let output = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)`,
    );
  }
  mkdirSync(SHOTS, { recursive: true });
  // As `npm run sandbox` runs it: node itself (with tsx's loader), so signals reach the sandbox.
  sandbox = spawn(process.execPath, ['--import', 'tsx', `${ROOT}src/sandbox/main.ts`], {
    cwd: ROOT,
    // No configuration at all, as on a fresh clone: only what any process needs to run.
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /ward sandbox: open (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    sandbox.stdout!.on('data', onData);
    sandbox.stderr!.on('data', onData);
    sandbox.once('exit', (code) => reject(new Error(`npm run sandbox exited (${code}):\n${output}`)));
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  await page.goto(url);
  await page.locator('#user-select option').first().waitFor({ state: 'attached' });
});

afterAll(async () => {
  await browser?.close();
  if (sandbox?.pid !== undefined && sandbox.exitCode === null) {
    const exited = new Promise((r) => sandbox.once('exit', r));
    process.kill(-sandbox.pid, 'SIGINT');
    await exited;
  }
});

async function actAs(label: string): Promise<void> {
  await page.selectOption('#user-select', { label });
  await page.locator('#command-status', { hasText: `Now acting as ${label}` }).waitFor();
}

async function command(text: string): Promise<void> {
  const input = page.locator('#command-input');
  await input.fill(text);
  await input.press('Enter');
  await page
    .locator('#command-status', { hasText: `Sent /ward ${text.replace(/^\/ward\s*/, '')}` })
    .waitFor();
}

function message(hasText: string | RegExp): Locator {
  return page.locator('.msg', { hasText }).last();
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}${name}.png` });
}

describe('npm run sandbox, in Chromium', { timeout: 120_000 }, () => {
  it('opens with no configuration, says plainly that changes are a dry run, and answers /ward help only to the asker', async () => {
    await expect(page.locator('#dry-run-banner').isVisible()).resolves.toBe(true);
    expect(await page.locator('#dry-run-banner').textContent()).toMatch(/never applied/);
    await actAs('riley (responder)');
    await command('/ward help');
    const help = message('forensics');
    await help.waitFor();
    expect(await help.locator('.only-you').textContent()).toBe('Only visible to you');
    await shot('01-help');
    // Ephemeral: alex does not see riley's help.
    await actAs('alex (approver)');
    await page.locator('.msg').first().or(page.locator('.empty')).waitFor();
    expect(await page.locator('.msg', { hasText: 'Only visible to you' }).count()).toBe(0);
  });

  it('renders hostile text as text: an unknown host named like HTML is refused and shown escaped', async () => {
    await actAs('riley (responder)');
    await command('forensics "<img src=x onerror=alert(1)>"');
    const refusal = message('must be a host name');
    await refusal.waitFor();
    expect(await page.locator('.msg img').count()).toBe(0);
  });

  it('renders Slack mrkdwn as Slack does, and never as HTML', async () => {
    // The page's own renderer, run in the page on text shaped like ward's and like hostile alert text.
    const html = (await page.evaluate(`(async () => {
      const { renderMrkdwn } = await import('/mrkdwn.js');
      const div = document.createElement('div');
      div.append(renderMrkdwn(${JSON.stringify(
        "*Plan* for <@U0DEMORESP>: `nft list ruleset`\n`nft -f - <<< 'table inet x {\n}'`\n" +
          '&lt;img src=x onerror=alert(1)&gt; <javascript:alert(1)|click> <https://example.org/a?b=1&amp;c=2|docs> :warning:',
      )}, { nameOf: (id) => id === 'U0DEMORESP' ? 'riley' : undefined }));
      return div.innerHTML;
    })()`)) as string;
    expect(html).toContain('<strong>Plan</strong>');
    expect(html).toContain('<span class="mention">@riley</span>');
    expect(html).toContain('<code>nft list ruleset</code>');
    expect(html).toContain('<code class="multiline">nft -f - &lt;&lt;&lt; \'table inet x {\n}\'</code>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('javascript:');
    expect(html).toContain(
      '<a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a>',
    );
    expect(html).toContain('⚠️');
  });

  it('/ward forensics localhost: collects evidence on this machine and posts the summary with the evidence file', async () => {
    await actAs('riley (responder)');
    await command('forensics localhost');
    const file = page.locator('.file', { hasText: /evidence|forensics/i }).last();
    await file.waitFor();
    await file.scrollIntoViewIfNeeded();
    await shot('02-forensics');
    const [download] = await Promise.all([page.waitForEvent('download'), file.locator('a').click()]);
    const saved = await download.path();
    expect(readFileSync(saved).length).toBeGreaterThan(0);
  });

  it('lockdown: requested by the responder, approved by the approver with the MFA code in the modal, ends as a dry run', async () => {
    await actAs('riley (responder)');
    await command('lockdown localhost --reason "INC-1 sandbox demo"');
    const request = message(/lockdown/i);
    await request.locator('button', { hasText: 'Approve' }).waitFor();
    const requestTs = await request.getAttribute('data-ts');
    // Who asks, for what, on which host, why and what the policy needs: above the buttons; no shell in the message.
    const requestText = (await request.textContent()) ?? '';
    expect(requestText).toMatch(/Requested by @riley: lockdown on localhost/);
    expect(requestText).toMatch(/Why: INC-1 sandbox demo/);
    expect(requestText).toMatch(/Needs \d of .* · MFA: .* · expires \d\d:\d\d UTC/);
    expect(requestText).not.toContain('nft -f');
    await shot('03-lockdown-requested');

    // The exact commands, under the plan's sha256, behind "Show exact plan".
    await request.locator('button', { hasText: 'Show exact plan' }).click();
    const planDialog = page.locator('#modal');
    await planDialog.waitFor({ state: 'visible' });
    await planDialog.locator('text=/sha256/').first().waitFor();
    expect(await planDialog.textContent()).toContain('nft -f -');
    await shot('03b-lockdown-exact-plan');
    await page.click('#modal-close');
    await planDialog.waitFor({ state: 'hidden' });

    await actAs('alex (approver)');
    await message(/lockdown/i)
      .locator('button', { hasText: 'Approve' })
      .click();
    const dialog = page.locator('#modal');
    await dialog.waitFor({ state: 'visible' });
    const input = dialog.locator('input').first();
    // Focus lands in the code field, so the approver can type at once.
    expect(await dialog.locator('input:focus').count()).toBe(1);

    // A wrong code first: ward answers with response_action errors, shown under the field.
    await input.fill('000000');
    await input.press('Enter');
    await dialog.locator('.input-error', { hasText: /not valid|invalid/i }).waitFor();
    await shot('04-mfa-wrong-code');

    const code = await page
      .locator('#mfa-codes li[data-user="U0DEMOAPPR"] .mfa-code')
      .getAttribute('data-code');
    expect(code).toMatch(/^\d{6}$/);
    await input.fill(code!);
    await shot('05-mfa-modal');
    await input.press('Enter');
    await dialog.waitFor({ state: 'hidden' });

    const outcome = message(/Dry run \(WARD_DRY_RUN=1\): nothing changed/);
    await outcome.waitFor();
    await outcome.scrollIntoViewIfNeeded();
    await shot('06-lockdown-dry-run');
    // The request message was edited in place (chat.update over server-sent events), not posted again.
    const edited = page.locator(`.msg[data-ts="${requestTs}"]`);
    expect(await edited.count()).toBe(1);
    expect(await edited.textContent()).toMatch(/@alex approved/);
    expect(await edited.locator('.edited').textContent()).toBe('(edited)');
    // The report in the thread does not call a dry run a success.
    const report = page.locator('.msg', { hasText: /Outcome: \S* ?dry run: nothing changed/ });
    await report.waitFor();
    expect(await page.locator('.msg', { hasText: /WARD_DRY_RUN=1[\s\S]*Outcome: succeeded/ }).count()).toBe(
      0,
    );
    // Nor does anything else: no "Running" line and no "succeeded" anywhere on the page for this dry run.
    expect(await page.locator('.msg', { hasText: /Running lockdown/ }).count()).toBe(0);
    expect(await edited.textContent()).toMatch(/Dry run: nothing changed/);
  });

  it('a sample Falco alert from the menu is routed to #incident with its suggested-action buttons', async () => {
    await actAs('riley (responder)');
    await page.click('#alert-menu-button');
    await page.click('#alert-menu button[data-sample="falco"]');
    // ward's answer to the webhook, as the page reports it: says why if ward refused the alert.
    const answer = page.locator('.toast', { hasText: /the Falco alert/ }).last();
    await answer.waitFor();
    expect(await answer.textContent()).toMatch(/^ward accepted the Falco alert \(HTTP 20\d\)/);
    const alert = message(/Write below binary dir/);
    await alert.waitFor();
    await alert.locator('button', { hasText: /forensics/i }).waitFor();
    await alert.locator('button', { hasText: /lockdown/i }).waitFor();
    await alert.scrollIntoViewIfNeeded();
    await shot('07-falco-alert');

    // alert → button → action: the suggested forensics runs on the alert's host, through ward's policy.
    const filesBefore = await page.locator('.file').count();
    await alert.locator('button', { hasText: /forensics/i }).click();
    await page.locator('.file').nth(filesBefore).waitFor();
    expect(await page.locator('.file').nth(filesBefore).textContent()).toMatch(/localhost/);
    await page.locator('.file').nth(filesBefore).scrollIntoViewIfNeeded();
    await shot('08-alert-forensics');
  });

  it('an incident: opened from #incident, its channel appears in the list, and the story continues there to the report', {
    timeout: 300_000,
  }, async () => {
    await actAs('riley (responder)');
    await page.locator('.channel-link', { hasText: '# incident' }).click();
    try {
      await incidentStory();
    } finally {
      // The other tests (in any order) work in #incident.
      await page.locator('.channel-link', { hasText: '# incident' }).click();
    }
  });
});

async function incidentStory(): Promise<void> {
  await command('incident open "Web shell on localhost" --severity sev2');
  const link = page.locator('.channel-link', { hasText: /inc-\d+-web-shell-on-localhost/ });
  await link.waitFor();
  await link.click();
  expect(await page.locator('#view-title').textContent()).toMatch(/🔒 inc-\d+-web-shell-on-localhost/);
  const header = message(/INC-\d+: Web shell on localhost/);
  await header.waitFor();
  expect(await header.textContent()).toMatch(/sev2/);

  // Forensics in the incident channel: the evidence lands here, not in #incident.
  const filesBefore = await page.locator('.file').count();
  await command('forensics localhost');
  await page.locator('.file').nth(filesBefore).waitFor();

  // Lockdown, approved by alex in the channel. A reload with the MFA modal open drops it, as Slack does.
  await command('lockdown localhost --reason "web shell"');
  await message(/lockdown/i)
    .locator('button', { hasText: 'Approve' })
    .waitFor();
  await actAs('alex (approver)');
  expect(await page.locator('#view-title').textContent()).toMatch(/inc-\d+-web-shell/);
  await message(/lockdown/i)
    .locator('button', { hasText: 'Approve' })
    .click();
  const dialog = page.locator('#modal');
  await dialog.waitFor({ state: 'visible' });
  await page.reload();
  await page.locator('#user-select option').first().waitFor({ state: 'attached' });
  await message(/lockdown/i).waitFor();
  expect(await dialog.isVisible()).toBe(false);
  await message(/lockdown/i)
    .locator('button', { hasText: 'Approve' })
    .click();
  await dialog.waitFor({ state: 'visible' });
  const codeEl = page.locator('#mfa-codes li[data-user="U0DEMOAPPR"] .mfa-code');
  const code = (await codeEl.getAttribute('data-code'))!;
  await dialog.locator('input').first().fill(code);
  await dialog.locator('input').first().press('Enter');
  await dialog.waitFor({ state: 'hidden' });
  await message(/Dry run \(WARD_DRY_RUN=1\): nothing changed/).waitFor();
  // The sidebar strikes the code ward took through (until the next 30-s code replaces it).
  await page
    .locator(`#mfa-codes li[data-user="U0DEMOAPPR"] .mfa-code.used[data-code="${code}"]`)
    .or(page.locator(`#mfa-codes li[data-user="U0DEMOAPPR"] .mfa-code:not([data-code="${code}"])`))
    .waitFor();

  await command('incident note "Web shell removed from /var/www; edge firewall blocks 203.0.113.9"');
  await message(/Added to the INC-\d+ timeline/).waitFor();

  // jordan (admin) closes it: the report draft is uploaded to the channel and downloads.
  await actAs('jordan (admin)');
  await command('incident close --summary "Contained and cleaned; drill"');
  const report = page.locator('.file', { hasText: /report-draft\.md/ });
  await report.waitFor();
  await report.scrollIntoViewIfNeeded();
  await shot('09-incident-closed');
  const [download] = await Promise.all([page.waitForEvent('download'), report.locator('a').click()]);
  const md = readFileSync(await download.path(), 'utf8');
  expect(md).toMatch(/^# INC-\d+ post-incident report \(draft\): Web shell on localhost/);
  expect(md).toContain('Contained and cleaned; drill');
  expect(md).toMatch(/\| lockdown \| localhost \|[^\n]*\| dry run: nothing changed \|/);
  expect(md).toMatch(/\| forensics \| localhost \|[^\n]*\| succeeded \|/);
  expect(md).toContain('Web shell removed from /var/www');
  // Nothing was locked down (a dry run): no containment is flagged as left in place.
  expect(md).toContain('No containment is left in place.');
}
