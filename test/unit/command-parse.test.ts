import { describe, expect, it } from 'vitest';
import { commands } from '../../commands/index.js';
import { CommandRegistry } from '../../src/core/registry.js';
import { parseCommandText } from '../../src/core/requests/parse-command.js';

const services = { commands: new CommandRegistry(commands) };

describe('parseCommandText', () => {
  it('fills positionals and common flags', () => {
    const r = parseCommandText(services, 'lockdown web1 --reason "C2 beacon" --dry-run');
    expect(r.command.name).toBe('lockdown');
    expect(r.args).toEqual({ host: 'web1' });
    expect(r.flags).toEqual({ reason: 'C2 beacon', dryRun: true, breakGlass: false });
  });

  it('empty text means help', () => {
    expect(parseCommandText(services, '   ').command.name).toBe('help');
  });

  it('suggests the command a typo meant', () => {
    expect(() => parseCommandText(services, 'lockdwn web1')).toThrow(
      /Unknown command `lockdwn`\. Did you mean `lockdown`/,
    );
    expect(() => parseCommandText(services, 'forensic web1')).toThrow(/Did you mean `forensics`/);
  });

  it('names the failing argument and shows the usage', () => {
    expect(() => parseCommandText(services, 'lockdown')).toThrow(
      /`host`: is required\. Usage: `\/ward lockdown <host\|host,host>/,
    );
    expect(() => parseCommandText(services, 'block-ip web1 not-an-ip')).toThrow(
      /`address`: must be an IPv4\/IPv6 address or CIDR/,
    );
    expect(() => parseCommandText(services, 'kill-process web1 -1')).toThrow();
    expect(() => parseCommandText(services, 'kill-process web1 12abc')).toThrow(
      /`pid`: must be a process id/,
    );
  });

  it('refuses host names that carry shell syntax, whatever the quoting', () => {
    for (const hostile of [
      '"web1; reboot"',
      "'$(id)'",
      '`id`',
      'web1&&id',
      '../etc',
      'WEB1|nc',
      '"web1\nid"',
    ]) {
      expect(() => parseCommandText(services, `lockdown ${hostile} --reason x`)).toThrow(
        /`host`: must be a host name/,
      );
    }
  });

  it('refuses unknown options and extra words, naming them', () => {
    expect(() => parseCommandText(services, 'lockdown web1 --force')).toThrow(
      /Unknown option `--force` for `lockdown`\. Options: --reason, --dry-run/,
    );
    expect(() => parseCommandText(services, 'lockdown web1 web2')).toThrow(
      /Unexpected argument `web2` \(quote values/,
    );
  });

  it('does not take --dry-run on a command that changes nothing', () => {
    expect(() => parseCommandText(services, 'hosts --dry-run')).toThrow(/changes nothing/);
  });
});
