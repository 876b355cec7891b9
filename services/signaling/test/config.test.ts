import { ConfigError, loadConfig } from '@strata/config';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signalingConfig } from '../src/config.js';

const idle = (raw: string | undefined): number => loadConfig(signalingConfig, raw === undefined ? {} : { SIGNALING_IDLE_TIMEOUT: raw }).SIGNALING_IDLE_TIMEOUT;

describe('SIGNALING_IDLE_TIMEOUT', () => {
  it('defaults to 60 s and takes whole seconds from 8 s, or 0 to disable', () => {
    assert.equal(idle(undefined), 60_000);
    assert.equal(idle('8s'), 8000);
    assert.equal(idle('2m'), 120_000);
    assert.equal(idle('0'), 0);
  });

  it('refuses what uWS cannot do, naming the variable', () => {
    for (const [raw, why] of [
      ['5s', /below the minimum 8s/],
      ['8500ms', /whole number of seconds/],
      ['20m', /above the maximum/],
      ['soon', /not a duration/],
    ] as const) {
      assert.throws(
        () => idle(raw),
        (e: unknown) => e instanceof ConfigError && e.problems.length === 1 && e.problems[0]!.startsWith('SIGNALING_IDLE_TIMEOUT:') && why.test(e.problems[0]!),
        raw,
      );
    }
  });
});
