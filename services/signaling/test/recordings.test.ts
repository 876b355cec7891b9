import type { Bus } from '@strata/bus';
import { StrataError, type Recording } from '@strata/protocol';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Recordings } from '../src/recordings.js';

/** A bus whose requests answer from a script, one entry per call: an error code, or a recording from `recorder`. */
function scriptedBus(script: (string | { recorder: string })[]) {
  const calls: string[] = [];
  const timeouts: number[] = [];
  const bus: Pick<Bus, 'request'> = {
    request: ((_def: unknown, subject: string, _req: unknown, opts?: { timeoutMs?: number }) => {
      calls.push(subject);
      timeouts.push(opts?.timeoutMs ?? 0);
      const next = script.shift();
      if (next === undefined) return Promise.reject(new Error('no more answers'));
      if (typeof next === 'string') return Promise.reject(new StrataError(next as 'CAPACITY', `answered ${next}`));
      const recording = { recordingId: 'RC_x', roomId: 'r', recorderId: next.recorder } as Partial<Recording>;
      return Promise.resolve(subject.endsWith('.list') ? { recordings: [recording] } : recording);
    }) as Pick<Bus, 'request'>['request'],
  };
  return { bus, calls, timeouts };
}

describe('the gateway’s recorder pool client', () => {
  it('asks again when a start reached a recorder that had just filled up, up to three attempts', async () => {
    const ok = scriptedBus(['CAPACITY', 'CAPACITY', { recorder: 'rec-2' }]);
    const r = await new Recordings(ok.bus, 'eu', 1000).start('r', 'alice');
    assert.equal(r.recorderId, 'rec-2');
    assert.deepEqual(ok.calls, ['strata.eu.recording.start', 'strata.eu.recording.start', 'strata.eu.recording.start']);

    const full = scriptedBus(['CAPACITY', 'CAPACITY', 'CAPACITY', { recorder: 'never' }]);
    await assert.rejects(new Recordings(full.bus, 'eu', 1000).start('r', 'alice'), (e: StrataError) => e.code === 'CAPACITY');
    assert.equal(full.calls.length, 3);
  });

  it('says UNAVAILABLE when no recorder is running or has room, and does not ask again on other errors', async () => {
    const none = scriptedBus(['UNAVAILABLE']);
    await assert.rejects(
      new Recordings(none.bus, 'eu', 1000).start('r', 'alice'),
      (e: StrataError) => e.code === 'UNAVAILABLE' && /no recorder in region eu is running and has room/.test(e.message),
    );
    const conflict = scriptedBus(['CONFLICT', { recorder: 'never' }]);
    await assert.rejects(new Recordings(conflict.bus, 'eu', 1000).start('r', 'alice'), (e: StrataError) => e.code === 'CONFLICT');
    assert.equal(conflict.calls.length, 1);
    const noneToRead = scriptedBus(['UNAVAILABLE']);
    await assert.rejects(
      new Recordings(noneToRead.bus, 'eu', 1000).get('RC_x'),
      (e: StrataError) => e.code === 'UNAVAILABLE' && e.message === 'no recorder is running in region eu',
    );
  });

  it('asks a read again on silence (a recorder going away took it), each attempt with a third of the read timeout; a start or stop once', async () => {
    const get = scriptedBus(['TIMEOUT', { recorder: 'rec-2' }]);
    assert.equal((await new Recordings(get.bus, 'eu', 15_000, 7500).get('RC_x')).recorderId, 'rec-2');
    assert.deepEqual(get.timeouts, [2500, 2500]);
    const list = scriptedBus(['TIMEOUT', 'TIMEOUT', { recorder: 'rec-3' }]);
    assert.equal((await new Recordings(list.bus, 'eu', 15_000).list('r'))[0]?.recorderId, 'rec-3');
    const silent = scriptedBus(['TIMEOUT', 'TIMEOUT', 'TIMEOUT', { recorder: 'never' }]);
    await assert.rejects(new Recordings(silent.bus, 'eu', 15_000).list(), (e: StrataError) => e.code === 'TIMEOUT');
    assert.equal(silent.calls.length, 3);
    const stop = scriptedBus(['TIMEOUT', { recorder: 'never' }]);
    await assert.rejects(new Recordings(stop.bus, 'eu', 15_000).stop('RC_x'), (e: StrataError) => e.code === 'TIMEOUT');
    const start = scriptedBus(['TIMEOUT', { recorder: 'never' }]);
    await assert.rejects(new Recordings(start.bus, 'eu', 15_000).start('r', 'alice'), (e: StrataError) => e.code === 'TIMEOUT');
    assert.deepEqual([stop.calls.length, start.calls.length], [1, 1]);
    assert.deepEqual(start.timeouts, [15_000]);
  });
});
