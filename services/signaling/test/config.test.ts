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

describe('SIGNALING_ROOM_LEG_SIZE', () => {
  const legSize = (raw: string | undefined): number =>
    loadConfig(signalingConfig, raw === undefined ? {} : { SIGNALING_ROOM_LEG_SIZE: raw }).SIGNALING_ROOM_LEG_SIZE;

  it('defaults to 0 (no share) and takes a member count', () => {
    assert.equal(legSize(undefined), 0);
    assert.equal(legSize('2'), 2);
  });

  it('refuses what is not a count of members, naming the variable', () => {
    for (const [raw, why] of [
      ['-1', /below the minimum 0/],
      ['2.5', /not an integer/],
      ['many', /not an integer/],
      ['1000000', /above the maximum/],
    ] as const) {
      assert.throws(
        () => legSize(raw),
        (e: unknown) =>
          e instanceof ConfigError && e.problems.length === 1 && e.problems[0]!.startsWith('SIGNALING_ROOM_LEG_SIZE:') && why.test(e.problems[0]!),
        raw,
      );
    }
  });
});
