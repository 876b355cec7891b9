import { ConfigError, bool, describeConfig, duration, int, list, loadConfig, oneOf, port, str, url } from '@strata/config';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

const spec = {
  PORT: port({ description: 'p', default: 8080 }),
  WORKERS: int({ description: 'w', default: 2, min: 1, max: 8 }),
  DEBUG: bool({ description: 'd', default: false }),
  MODE: oneOf(['a', 'b'] as const, { description: 'm', default: 'a' }),
  GRACE: duration({ description: 'g', default: 30_000 }),
  URL: url({ description: 'u', default: 'nats://x:1', protocols: ['nats'] }),
  NAME: str({ description: 'n', pattern: /^[a-z]+$/ }),
  IPS: list(str({ description: 'ip' }), { description: 'l', default: [] }),
};

describe('loadConfig', () => {
  it('applies defaults and parses values', () => {
    const c = loadConfig(spec, { NAME: 'abc', WORKERS: '4', DEBUG: 'yes', GRACE: '5s', IPS: '1.1.1.1, 2.2.2.2', MODE: 'b' });
    assert.deepEqual(c, { PORT: 8080, WORKERS: 4, DEBUG: true, MODE: 'b', GRACE: 5000, URL: 'nats://x:1', NAME: 'abc', IPS: ['1.1.1.1', '2.2.2.2'] });
    assert.equal(loadConfig(spec, { NAME: 'a', GRACE: '2m' }).GRACE, 120_000);
  });

  it('reports every bad variable by name at once', () => {
    try {
      loadConfig(spec, { PORT: '70000', WORKERS: '1.5', DEBUG: 'maybe', MODE: 'c', GRACE: 'soon', URL: 'http://x', NAME: 'ABC' });
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      const names = e.problems.map((p) => p.split(':')[0]);
      assert.deepEqual(names, ['PORT', 'WORKERS', 'DEBUG', 'MODE', 'GRACE', 'URL', 'NAME']);
      assert.match(e.message, /PORT: 70000 is above the maximum 65535/);
    }
  });

  it('treats a missing required variable as an error and an empty one as unset', () => {
    assert.throws(() => loadConfig(spec, {}), /NAME: required/);
    assert.equal(loadConfig(spec, { NAME: 'a', PORT: '' }).PORT, 8080);
  });

  it('documents a spec as a table', () => {
    const md = describeConfig({ PORT: spec.PORT, NAME: spec.NAME });
    assert.match(md, /\| `PORT` \| port \| `8080` \| p \|/);
    assert.match(md, /\| `NAME` \| string \| \(required\) \|/);
  });
});
