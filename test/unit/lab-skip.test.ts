import { describe, expect, it } from 'vitest';
import { refuseLabSkipInCi } from '../lab/lab.js';

const missing = { ok: false as const, why: 'the lab needs root' };

describe('lab tests that cannot run', () => {
  it('fail the run under CI, naming the reason', () => {
    expect(() => refuseLabSkipInCi('lockdown lab', missing, { CI: 'true' })).toThrow(
      /LAB TESTS CANNOT RUN under CI: "lockdown lab": the lab needs root/,
    );
    expect(() => refuseLabSkipInCi('lockdown lab', missing, { CI: '1' })).toThrow();
  });

  it('are skipped (loudly, by describeLab) outside CI, and never refused when the lab can run', () => {
    expect(() => refuseLabSkipInCi('lockdown lab', missing, {})).not.toThrow();
    expect(() => refuseLabSkipInCi('lockdown lab', missing, { CI: 'false' })).not.toThrow();
    expect(() => refuseLabSkipInCi('lockdown lab', { ok: true }, { CI: 'true' })).not.toThrow();
  });
});
