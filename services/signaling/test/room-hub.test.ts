import { type EventDef, type EventOf, type MediaEvent, type RoomEvent, type SpeakerRanking } from '@strata/protocol';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RoomHub, type RoomBus, type RoomMember } from '../src/room-hub.js';

/** Subscriptions by subject, delivered synchronously; enough to drive the hub's fan-out. */
class FakeBus {
  readonly subs = new Map<string, Set<(e: unknown) => void>>();
  readonly published: unknown[] = [];

  subscribe<D extends EventDef>(_def: D, subject: string, handler: (e: EventOf<D>) => void) {
    const set = this.subs.get(subject) ?? new Set();
    const h = (e: unknown) => handler(e as EventOf<D>);
    set.add(h);
    this.subs.set(subject, set);
    return {
      unsubscribe: () => {
        set.delete(h);
        if (set.size === 0) this.subs.delete(subject);
      },
    };
  }

  publish(_def: EventDef, _subject: string, event: unknown): void {
    this.published.push(event);
  }

  deliver(subject: string, e: unknown): void {
    for (const h of this.subs.get(subject) ?? []) h(e);
  }
}

class Member implements RoomMember {
  readonly got: string[] = [];
  constructor(
    readonly peerId: string,
    readonly roomId = 'r',
  ) {}
  onRoomEvent(e: RoomEvent): void {
    this.got.push(`${e.type}:${e.peerId}`);
  }
  onMediaEvent(e: MediaEvent): void {
    this.got.push(`${e.type}`);
  }
  onActiveSpeaker(peerId: string): void {
    this.got.push(`speaker:${peerId}`);
  }
  onSpeakers(e: SpeakerRanking): void {
    this.got.push(`ranking:${e.nodeId}:${e.audio.join(',')}`);
  }
  onMoved(gatewayId: string): void {
    this.got.push(`moved:${gatewayId}`);
  }
}

const EVENTS = 'strata.t.room.r.events';
const MEDIA = 'strata.t.room.r.media';
const RANKING = 'strata.t.room.r.ranking';
const joined = (peerId: string) => ({ type: 'peerJoined', roomId: 'r', peerId, identity: peerId });

describe('RoomHub', () => {
  it('hands what arrived for a reserved peer to its session, in order, then delivers directly', () => {
    const bus = new FakeBus();
    const hub = new RoomHub(bus as unknown as RoomBus, 't');
    const reserved = hub.reserve('r', 'p1');
    assert.equal(bus.subs.get(EVENTS)?.size, 1, 'listening before the session exists');
    bus.deliver(EVENTS, joined('p2'));
    bus.deliver(MEDIA, { type: 'consumerClosed', roomId: 'r', nodeId: 'n', peerId: 'p1', consumerId: 'c', producerId: 'x' });
    bus.deliver(RANKING, { roomId: 'r', nodeId: 'n', k: 4, audio: ['p2'], order: ['p2'] });
    const session = new Member('p1');
    hub.attach(session);
    bus.deliver(EVENTS, joined('p3'));
    assert.deepEqual(session.got, ['peerJoined:p2', 'consumerClosed', 'ranking:n:p2', 'peerJoined:p3']);
    hub.detach(reserved); // a stale reservation cannot detach the session that replaced it
    assert.equal(hub.roomCount, 1);
  });

  it('gives peerMoved to the moved peer only, and other room events to everyone else', () => {
    const bus = new FakeBus();
    const hub = new RoomHub(bus as unknown as RoomBus, 't');
    const [a, b] = [new Member('a'), new Member('b')];
    hub.attach(a);
    hub.attach(b);
    bus.deliver(EVENTS, { type: 'peerMoved', roomId: 'r', peerId: 'a', gatewayId: 'g2' });
    bus.deliver(EVENTS, joined('a'));
    assert.deepEqual(a.got, ['moved:g2']);
    assert.deepEqual(b.got, ['peerJoined:a']);
  });

  it('unsubscribes when its last member in the room leaves, reserved or not', () => {
    const bus = new FakeBus();
    const hub = new RoomHub(bus as unknown as RoomBus, 't');
    const a = new Member('a');
    hub.attach(a);
    const reserved = hub.reserve('r', 'b');
    assert.equal(hub.subscriptionCount, 4);
    hub.detach(a);
    assert.equal(hub.roomCount, 1, 'the reservation still listens');
    hub.detach(reserved);
    assert.equal(hub.roomCount, 0);
    assert.equal(hub.subscriptionCount, 0);
    assert.equal(bus.subs.size, 0);
  });
});
