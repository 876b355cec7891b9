import type { Bus } from '@strata/bus';
import { mediaBeat, memoryLogger } from '@strata/harness';
import type { EventOf, Heartbeat } from '@strata/protocol';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NodeWatch } from '../src/node-watch.js';

type Beat = EventOf<typeof Heartbeat>;
const beat = (id: string, draining = false, intervalMs = 20): Beat => mediaBeat(id, 0, 0, draining, intervalMs);

function watch(self: string) {
  let deliver: (b: Beat) => void = () => undefined;
  const bus = {
    subscribe: ((_def: unknown, _subject: string, h: (b: Beat) => void) => {
      deliver = h;
      return { unsubscribe() {} };
    }) as unknown as Bus['subscribe'],
  };
  const gone: string[] = [];
  const w = new NodeWatch(bus, 't', self, 10, (id) => gone.push(id), memoryLogger().log);
  return { w, gone, send: (b: Beat) => deliver(b) };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NodeWatch', () => {
  it('reports a node whose beats stop once, and not one that keeps beating or itself', async () => {
    const { w, gone, send } = watch('me');
    send(beat('me', false, 20));
    send(beat('quiet', false, 20));
    // A node that beats once a minute is live for three minutes: no scheduling delay here makes it gone.
    send(beat('alive', false, 60_000));
    const deadline = Date.now() + 10_000;
    while (gone.length === 0 && Date.now() < deadline) await sleep(10);
    await sleep(50); // a few more checks: still reported once
    w.close();
    assert.deepEqual(gone, ['quiet']);
  });

  it('reports a node that drains at once', () => {
    const { w, gone, send } = watch('me');
    send(beat('n1'));
    send(beat('n1', true));
    w.close();
    assert.deepEqual(gone, ['n1']);
  });

  it('never reports a node it never heard', async () => {
    const { w, gone } = watch('me');
    await sleep(50);
    w.close();
    assert.deepEqual(gone, []);
  });
});
