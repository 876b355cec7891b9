import type { Bus } from '@strata/bus';
import { ActiveSpeakerEvent, MediaEvent, RoomEvent, SpeakerRanking, subjects } from '@strata/protocol';
import type { Subscription } from 'nats';

/** What the hub needs of the bus (a fake in unit tests). */
export type RoomBus = Pick<Bus, 'subscribe' | 'publish'>;

export interface RoomMember {
  readonly peerId: string;
  readonly roomId: string;
  onRoomEvent(e: RoomEvent): void;
  onMediaEvent(e: MediaEvent): void;
  onActiveSpeaker(peerId: string, producerId: string): void;
  /** A leg's speaker ranking changed; a member takes only its own leg's. */
  onSpeakers(e: SpeakerRanking): void;
  /** The session was resumed on gateway `gatewayId` (possibly this one). */
  onMoved(gatewayId: string): void;
}

/**
 * Stands in for a peer whose session does not exist yet (a join or resume reading the room's
 * roster): the room's traffic is kept and handed to the session when it attaches, so nothing
 * published between the roster snapshot and the session is lost.
 */
class ReservedMember implements RoomMember {
  private readonly held: ((m: RoomMember) => void)[] = [];

  constructor(
    readonly peerId: string,
    readonly roomId: string,
  ) {}

  onRoomEvent(e: RoomEvent): void {
    this.held.push((m) => m.onRoomEvent(e));
  }
  onMediaEvent(e: MediaEvent): void {
    this.held.push((m) => m.onMediaEvent(e));
  }
  onActiveSpeaker(peerId: string, producerId: string): void {
    this.held.push((m) => m.onActiveSpeaker(peerId, producerId));
  }
  onSpeakers(e: SpeakerRanking): void {
    this.held.push((m) => m.onSpeakers(e));
  }
  onMoved(gatewayId: string): void {
    this.held.push((m) => m.onMoved(gatewayId));
  }

  handOver(m: RoomMember): void {
    for (const deliver of this.held.splice(0)) deliver(m);
  }
}

/**
 * Fans a room's NATS traffic out to the sessions this gateway holds in it. A gateway listens
 * to a room only while it has a member there, so rooms cost nothing where nobody is.
 * Subscriptions go out on the same connection as the requests that follow them, so NATS
 * registers them first: a roster read after `attach`/`reserve` misses no event.
 */
export class RoomHub {
  private readonly rooms = new Map<string, { members: Map<string, RoomMember>; subs: Subscription[] }>();

  constructor(
    private readonly bus: RoomBus,
    private readonly region: string,
  ) {}

  get roomCount(): number {
    return this.rooms.size;
  }

  get subscriptionCount(): number {
    let n = 0;
    for (const r of this.rooms.values()) n += r.subs.length;
    return n;
  }

  /** Listens to the room for `peerId` before its session exists; `attach` the session (or `detach` the reservation) after. */
  reserve(roomId: string, peerId: string): RoomMember {
    const m = new ReservedMember(peerId, roomId);
    this.attach(m);
    return m;
  }

  attach(m: RoomMember): void {
    let room = this.rooms.get(m.roomId);
    if (!room) {
      const members = new Map<string, RoomMember>();
      const each = (fn: (x: RoomMember) => void) => {
        for (const x of [...members.values()]) fn(x);
      };
      const subs = [
        this.bus.subscribe(RoomEvent, subjects.roomEvents(this.region, m.roomId), (e) => {
          if (e.type === 'peerMoved') members.get(e.peerId)?.onMoved(e.gatewayId);
          else each((x) => x.peerId !== e.peerId && x.onRoomEvent(e));
        }),
        this.bus.subscribe(MediaEvent, subjects.roomMedia(this.region, m.roomId), (e) => members.get(e.peerId)?.onMediaEvent(e)),
        this.bus.subscribe(ActiveSpeakerEvent, subjects.activeSpeaker(this.region, m.roomId), (e) => each((x) => x.onActiveSpeaker(e.peerId, e.producerId))),
        this.bus.subscribe(SpeakerRanking, subjects.roomRanking(this.region, m.roomId), (e) => each((x) => x.onSpeakers(e))),
      ];
      room = { members, subs };
      this.rooms.set(m.roomId, room);
    }
    const previous = room.members.get(m.peerId);
    room.members.set(m.peerId, m);
    if (previous instanceof ReservedMember) previous.handOver(m);
  }

  detach(m: RoomMember): void {
    const room = this.rooms.get(m.roomId);
    if (!room || room.members.get(m.peerId) !== m) return;
    room.members.delete(m.peerId);
    if (room.members.size === 0) {
      for (const s of room.subs) s.unsubscribe();
      this.rooms.delete(m.roomId);
    }
  }

  publish(e: RoomEvent): void {
    this.bus.publish(RoomEvent, subjects.roomEvents(this.region, e.roomId), e);
  }
}
