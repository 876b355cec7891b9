import { memoryLogger } from '@strata/harness';
import { check, LegEvent, MediaRoomLeg, type EventDef, type EventOf, type PeerSummary, type RequestOf, type ResponseOf, type RpcDef } from '@strata/protocol';
import type { Bus } from '@strata/bus';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LegSync } from '../src/leg-sync.js';
import { RemoteLegs } from '../src/remote-legs.js';

type Handler = (e: unknown) => void;

/** One room's leg subject and `room.leg` answers, in memory; `drop` loses the next events on purpose. */
class Hub {
  readonly subs = new Set<Handler>();
  readonly legs = new Map<string, LegSync>();
  drop = 0;
  bus(): Pick<Bus, 'publish' | 'subscribe'> {
    return {
      publish: <D extends EventDef>(def: D, _subject: string, e: EventOf<D>) => {
        assert.ok(check(def.schema, e).ok, `valid ${def.name}`);
        if (this.drop > 0) return void this.drop--;
        for (const h of [...this.subs]) queueMicrotask(() => h(e));
      },
      subscribe: (<D extends EventDef>(_def: D, _subject: string, h: (e: EventOf<D>) => void) => {
        const handler = h as Handler;
        this.subs.add(handler);
        return { unsubscribe: () => this.subs.delete(handler) };
      }) as unknown as Bus['subscribe'],
    };
  }
  far() {
    return {
      request: async <D extends RpcDef>(nodeId: string, def: D, _req: RequestOf<D>): Promise<ResponseOf<D>> => {
        assert.equal(def.name, MediaRoomLeg.name);
        const leg = this.legs.get(nodeId);
        return (leg ? leg.snapshot() : { open: false, seq: 0, peers: [] }) as ResponseOf<D>;
      },
    };
  }
}

function leg(hub: Hub, nodeId: string, members: PeerSummary[]) {
  const remote = new RemoteLegs({ producerAdded() {}, producerPaused() {}, producerClosed() {}, legGone() {} });
  const sync = new LegSync('r', `leg-of-${nodeId}`, remote, () => members, { bus: hub.bus(), region: 't', nodeId, far: hub.far(), log: memoryLogger().log });
  hub.legs.set(nodeId, sync);
  sync.start();
  return { remote, sync, members };
}

const settle = () => new Promise((r) => setTimeout(r, 10));
const peer = (peerId: string): PeerSummary => ({ peerId, identity: peerId, producers: [] });

describe('LegSync', () => {
  it('a new leg learns the legs it is told of, and they learn it from its events', async () => {
    const hub = new Hub();
    const a = leg(hub, 'a', [peer('p1')]);
    a.sync.changed({ type: 'memberJoined', peer: { peerId: 'p1', identity: 'p1' } });
    const b = leg(hub, 'b', []);
    await b.sync.learn(['a', 'b']);
    assert.deepEqual(
      b.remote.peers().map((p) => p.peerId),
      ['p1'],
      'b asked a for its state',
    );
    b.members.push(peer('p2'));
    b.sync.changed({ type: 'memberJoined', peer: { peerId: 'p2', identity: 'p2' } });
    await settle();
    assert.deepEqual(
      a.remote.peers().map((p) => p.peerId),
      ['p2'],
      'a heard b join',
    );
  });

  it('two legs opened at once, neither told of the other, find each other through hello', async () => {
    const hub = new Hub();
    const a = leg(hub, 'a', [peer('p1')]);
    const b = leg(hub, 'b', [peer('p2')]);
    await settle();
    assert.ok(a.remote.has('b') && b.remote.has('a'));
  });

  it('a lost event is a gap: the leg asks for the state instead of skipping', async () => {
    const hub = new Hub();
    const a = leg(hub, 'a', []);
    const b = leg(hub, 'b', []);
    await settle();
    a.members.push(peer('p1'));
    hub.drop = 1; // b never hears p1 join
    a.sync.changed({ type: 'memberJoined', peer: { peerId: 'p1', identity: 'p1' } });
    a.members.push(peer('p2'));
    a.sync.changed({ type: 'memberJoined', peer: { peerId: 'p2', identity: 'p2' } });
    await settle();
    assert.deepEqual(
      b.remote
        .peers()
        .map((p) => p.peerId)
        .sort(),
      ['p1', 'p2'],
    );
  });

  it('a leg that closes is dropped by the others, and an audit drops one that no longer answers open', async () => {
    const hub = new Hub();
    const a = leg(hub, 'a', [peer('p1')]);
    const b = leg(hub, 'b', []);
    const c = leg(hub, 'c', []);
    await settle();
    a.sync.close();
    await settle();
    assert.equal(b.remote.has('a'), false);
    // c closes silently (its legClosed lost): b's audit finds it closed.
    hub.drop = 1;
    c.sync.close();
    hub.legs.delete('c');
    await settle();
    assert.equal(b.remote.has('c'), true, 'not heard');
    await b.sync.audit(['c']);
    assert.equal(b.remote.has('c'), false, 'the audit dropped it');
  });
});
