/**
 * Every NATS subject Strata uses, built in one place. The hierarchy puts the region first so a
 * supercluster can route or filter per region with one wildcard (`strata.eu-west.>`), then the
 * domain (svc, heartbeat, media, room, turn, geo), then the instance, then the operation.
 *
 *   strata.<region>.svc.<kind>.<nodeId>.health      request/reply  health of one process
 *   strata.<region>.heartbeat.<kind>.<nodeId>       publish        periodic liveness + load
 *   strata.<region>.media.<nodeId>.<op>             request/reply  media node operations (op may be dotted)
 *   strata.<region>.room.<roomId>.events            publish        room notifications fanned out to gateways
 *   strata.<region>.room.<roomId>.speaker           publish        active-speaker changes from media nodes
 *   strata.<region>.room.<roomId>.media             publish        consumer/producer events for one peer, from media nodes
 *   strata.<region>.room.<roomId>.legs              publish        what changes on one leg of a cascaded room, for the other legs
 *   strata.<region>.room.<roomId>.levels            publish        audio levels of one leg's speakers, for the other legs
 *   strata.<region>.room.<roomId>.ranking           publish        the room's speaker ranking as one leg computed it, for gateways
 *   strata.<region>.turn.credentials                request/reply  ephemeral TURN credentials (queue group)
 *   strata.<region>.geo.route                       request/reply  which region for this client (queue group)
 *   strata.<region>.recording.<op>                  request/reply  start, stop, get, list recordings (queue group)
 *   strata.<region>.recorder.<nodeId>.<op>          request/reply  one recorder: what the holder of a recording is asked
 */
import { assertId, type ServiceKind } from './ids.js';

export const ROOT = 'strata';

const r = (region: string): string => `${ROOT}.${assertId(region, 'region')}`;

export function health(region: string, kind: ServiceKind, nodeId: string): string {
  return `${r(region)}.svc.${kind}.${assertId(nodeId, 'node')}.health`;
}

export function heartbeat(region: string, kind: ServiceKind, nodeId: string): string {
  return `${r(region)}.heartbeat.${kind}.${assertId(nodeId, 'node')}`;
}

/** Wildcard over heartbeats; `region` or `kind` may be '*'. */
export function heartbeats(region: string | '*', kind: ServiceKind | '*' = '*'): string {
  return `${ROOT}.${region === '*' ? '*' : assertId(region, 'region')}.heartbeat.${kind}.*`;
}

const OP_RE = /^[a-z][a-zA-Z]*(\.[a-z][a-zA-Z]*)*$/;

export function media(region: string, nodeId: string, op: string): string {
  if (!OP_RE.test(op)) throw new TypeError(`invalid media op "${op}"`);
  return `${r(region)}.media.${assertId(nodeId, 'node')}.${op}`;
}

/** Everything one media node answers: `strata.<region>.media.<nodeId>.>` */
export function mediaAll(region: string, nodeId: string): string {
  return `${r(region)}.media.${assertId(nodeId, 'node')}.>`;
}

export function roomEvents(region: string, roomId: string): string {
  return `${r(region)}.room.${assertId(roomId, 'room')}.events`;
}

export function activeSpeaker(region: string, roomId: string): string {
  return `${r(region)}.room.${assertId(roomId, 'room')}.speaker`;
}

export function roomMedia(region: string, roomId: string): string {
  return `${r(region)}.room.${assertId(roomId, 'room')}.media`;
}

export function roomLegs(region: string, roomId: string): string {
  return `${r(region)}.room.${assertId(roomId, 'room')}.legs`;
}

export function roomLevels(region: string, roomId: string): string {
  return `${r(region)}.room.${assertId(roomId, 'room')}.levels`;
}

export function roomRanking(region: string, roomId: string): string {
  return `${r(region)}.room.${assertId(roomId, 'room')}.ranking`;
}

/** Everything about one room: `strata.<region>.room.<roomId>.>` */
export function roomAll(region: string, roomId: string): string {
  return `${r(region)}.room.${assertId(roomId, 'room')}.>`;
}

export function turnCredentials(region: string): string {
  return `${r(region)}.turn.credentials`;
}

export function geoRoute(region: string): string {
  return `${r(region)}.geo.route`;
}

/** The recorder pool's operations, by the RPC's name: `recording.start` → `strata.<region>.recording.start`. */
export function recording(region: string, name: string): string {
  const op = name.startsWith('recording.') ? name.slice('recording.'.length) : '';
  if (!OP_RE.test(op)) throw new TypeError(`invalid recording operation "${name}"`);
  return `${r(region)}.recording.${op}`;
}

/** One recorder's own operations. */
export function recorder(region: string, nodeId: string, op: string): string {
  if (!OP_RE.test(op)) throw new TypeError(`invalid recorder op "${op}"`);
  return `${r(region)}.recorder.${assertId(nodeId, 'node')}.${op}`;
}

/** Queue group names: one member of the group answers each request. */
export const queues = {
  turn: 'strata-turn',
  geo: 'strata-geo',
  recorder: 'strata-recorder',
} as const;
