import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Manifest {
  features: { slash_commands: Array<{ command: string; url?: string }> };
  oauth_config: { scopes: { bot: string[] } };
  settings: { socket_mode_enabled: boolean; interactivity: { is_enabled: boolean; request_url?: string } };
}

const read = (name: string) =>
  parse(readFileSync(new URL(`../../slack/${name}`, import.meta.url), 'utf8')) as Manifest;

describe('Slack app manifests', () => {
  it('HTTP mode: /ward, interactivity and events all point at /slack/events', () => {
    const m = read('manifest.yaml');
    expect(m.features.slash_commands).toEqual([
      expect.objectContaining({ command: '/ward', url: expect.stringMatching(/\/slack\/events$/) }),
    ]);
    expect(m.settings.interactivity.request_url).toMatch(/\/slack\/events$/);
    expect(m.settings.socket_mode_enabled).toBe(false);
  });

  it('Socket Mode: same command and scopes, no URLs', () => {
    const http = read('manifest.yaml');
    const socket = read('manifest.socket-mode.yaml');
    expect(socket.settings.socket_mode_enabled).toBe(true);
    expect(socket.features.slash_commands[0]?.url).toBeUndefined();
    expect(socket.settings.interactivity.request_url).toBeUndefined();
    expect(socket.oauth_config.scopes.bot).toEqual(http.oauth_config.scopes.bot);
  });

  it('asks for the scopes ward uses', () => {
    const scopes = read('manifest.yaml').oauth_config.scopes.bot;
    for (const s of ['commands', 'chat:write', 'files:write', 'im:write', 'usergroups:read'])
      expect(scopes).toContain(s);
  });

  it('incidents: channel, pin and bookmark scopes and the "Add to incident timeline" message shortcut', () => {
    for (const name of ['manifest.yaml', 'manifest.socket-mode.yaml']) {
      const m = read(name) as Manifest & { features: { shortcuts?: Array<Record<string, string>> } };
      for (const s of ['channels:manage', 'groups:write', 'pins:write', 'bookmarks:write'])
        expect(m.oauth_config.scopes.bot).toContain(s);
      expect(m.features.shortcuts).toContainEqual(
        expect.objectContaining({ type: 'message', callback_id: 'incident.add_to_timeline' }),
      );
    }
  });
});
