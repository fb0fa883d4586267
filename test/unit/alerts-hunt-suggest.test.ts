import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { huntIndicatorsFor } from '../../src/alerts/hunt-suggest.js';
import { renderAlertMessage } from '../../src/alerts/render.js';
import { parseFalco } from '../../src/alerts/sources/falco.js';

const falco = JSON.parse(
  readFileSync(new URL('../fixtures/falco_alert_write_below_binary_dir.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

describe('suggest: [hunt]', () => {
  it('derives indicators from Falco fields, leaving out anything that fails validation', () => {
    const body = {
      ...falco,
      output_fields: {
        ...(falco['output_fields'] as object),
        'proc.exepath': '/tmp/kworker-upd',
        'fd.name': '/usr/bin/evil; rm -rf /',
        'proc.sha256': 'a'.repeat(64),
        'user.name': 'backdoor',
      },
    };
    const [alert] = parseFalco(body);
    expect(huntIndicatorsFor(alert!)).toEqual([
      'file:/tmp/kworker-upd',
      'process:kworker-upd',
      `sha256:${'a'.repeat(64)}`,
      'user:backdoor',
    ]);
  });

  it('shows the exact hunt on the button and in its confirmation', () => {
    const [alert] = parseFalco({
      ...falco,
      output_fields: { ...(falco['output_fields'] as object), 'proc.exepath': '/tmp/kworker-upd' },
    });
    const message = renderAlertMessage(
      alert!,
      { count: 1, firstSeen: 't', lastSeen: 't', status: 'firing', inventoryHost: 'web1' },
      { rule: 'r', suggest: ['hunt'] },
      '0b7c1d2e-3f40-4a51-9b62-7c83d94ea5f6',
    );
    const shown = JSON.stringify(message.blocks);
    expect(shown).toContain('alert.suggest.hunt');
    expect(shown).toContain('/ward hunt all file:/tmp/kworker-upd file:/bin/hack process:kworker-upd');
  });
});
