import { describe, expect, it } from 'vitest';
import { parseSockets, socketsForIp, socketsForPort } from '../../src/actions/hunt.js';
import { parseIndicator, parseIndicators } from '../../src/actions/hunt-indicators.js';
import { compareRpmVersions } from '../../src/actions/rpm-version.js';

describe('hunt indicators', () => {
  it('accepts every kind in its canonical form', () => {
    expect(parseIndicator(`sha256:${'AB'.repeat(32)}`)).toEqual({ kind: 'sha256', value: 'ab'.repeat(32) });
    expect(parseIndicator('file:/tmp/.x/kworker')).toEqual({ kind: 'file', value: '/tmp/.x/kworker' });
    expect(parseIndicator('ip:203.0.113.0/24').kind).toBe('ip');
    expect(parseIndicator('package:openssh-server<=1:9.2p1-2+deb12u3')).toMatchObject({
      name: 'openssh-server',
      op: '<=',
      version: '1:9.2p1-2+deb12u3',
    });
  });

  it.each([
    'sha256:abc;id',
    `sha256:${'a'.repeat(63)}$`,
    'file:/tmp/$(id)',
    'file:/tmp/a b',
    'file:relative/path',
    'file:/tmp/../etc/shadow',
    "process:sh';id'",
    'process:a|b',
    'ip:1.2.3.4;id',
    'ip:1.2.3.4/33',
    'port:22;id',
    'port:70000',
    'user:root$(id)',
    'user:Root',
    'package:openssh`id`',
    'package:bash<1.0;id',
    'package:bash<<1.0',
    'thing:x',
  ])('refuses %s with the exact problem', (word) => {
    expect(() => parseIndicator(word)).toThrow();
  });

  it('refuses the same indicator twice and an empty hunt', () => {
    expect(() => parseIndicators(['port:22', 'port:22'])).toThrow(/given twice/);
    expect(() => parseIndicators([])).toThrow(/at least one indicator/);
  });
});

describe('hunt answers', () => {
  const ss = [
    'tcp   LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=10,fd=3))',
    'tcp   ESTAB  0 0   198.51.100.11:22 198.51.100.1:40000 users:(("sshd",pid=11,fd=4))',
    'tcp   LISTEN 0 5   [::]:8080 [::]:*',
    'udp   UNCONN 0 0   127.0.0.1:53 0.0.0.0:*',
  ].join('\n');

  it('matches established and listening sockets by CIDR, and listeners by port', () => {
    const sockets = parseSockets(ss);
    expect(socketsForIp(sockets, '198.51.100.0/24').map((s) => s.local)).toEqual(['198.51.100.11:22']);
    expect(socketsForPort(sockets, '8080').map((s) => s.local)).toEqual(['[::]:8080']);
    expect(socketsForPort(sockets, '53').map((s) => s.proto)).toEqual(['udp']);
    expect(socketsForPort(sockets, '40000')).toEqual([]);
  });

  it('orders rpm versions as rpm does', () => {
    expect(compareRpmVersions('1.0-1', '1.0-2')).toBe(-1);
    expect(compareRpmVersions('1:1.0-1', '2.0-1')).toBe(1);
    expect(compareRpmVersions('1.0~rc1-1', '1.0-1')).toBe(-1);
    expect(compareRpmVersions('3.0.7-27.el9', '3.0.7-27.el9')).toBe(0);
    expect(compareRpmVersions('1.10', '1.9')).toBe(1);
  });
});
