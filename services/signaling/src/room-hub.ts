import type { Bus } from '@strata/bus';
import { ActiveSpeakerEvent, MediaEvent, RoomEvent, subjects } from '@strata/protocol';
import type { Subscription } from 'nats';

export interface RoomMember {
  readonly peerId: string;
  readonly roomId: string;
  onRoomEvent(e: RoomEvent): void;
  onMediaEvent(e: MediaEvent): void;
  onActiveSpeaker(peerId: string, producerId: string): void;
}

/**
 * Fans a room's NATS traffic out to the sessions this gateway holds in it. A gateway listens
 * to a room only while it has a member there, so rooms cost nothing where nobody is.
 */
export class RoomHub {
  private readonly rooms = new Map<string, { members: Map<string, RoomMember>; subs: Subscription[] }>();

  constructor(
    private readonly bus: Bus,
    private readonly region: string,
  ) {}

  get roomCount(): number {
    return this.rooms.size;
  }

  attach(m: RoomMember): void {
    let room = this.rooms.get(m.roomId);
    if (!room) {
      const members = new Map<string, RoomMember>();
      const each = (fn: (x: RoomMember) => void) => {
        for (const x of [...members.values()]) fn(x);
      };
      const subs = [
        this.bus.subscribe(RoomEvent, subjects.roomEvents(this.region, m.roomId), (e) => each((x) => x.peerId !== e.peerId && x.onRoomEvent(e))),
        this.bus.subscribe(MediaEvent, subjects.roomMedia(this.region, m.roomId), (e) => members.get(e.peerId)?.onMediaEvent(e)),
        this.bus.subscribe(ActiveSpeakerEvent, subjects.activeSpeaker(this.region, m.roomId), (e) => each((x) => x.onActiveSpeaker(e.peerId, e.producerId))),
      ];
      room = { members, subs };
      this.rooms.set(m.roomId, room);
    }
    room.members.set(m.peerId, m);
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

  /** Resolves once NATS has our subscriptions, so events published right after are not missed. */
  async ready(): Promise<void> {
    await this.bus.nc.flush();
  }

  publish(e: RoomEvent): void {
    this.bus.publish(RoomEvent, subjects.roomEvents(this.region, e.roomId), e);
  }
}
