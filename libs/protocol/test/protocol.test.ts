import { GeoRoute, Health, Heartbeat, RoomPlacement, TurnCredentials, check, isValidId, roomKey, subjects } from '@strata/protocol';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

describe('ids and subjects', () => {
  it('accepts ids that are safe subject tokens and rejects the rest', () => {
    for (const ok of ['eu-west', 'room_1', 'A', 'x'.repeat(64)]) assert.ok(isValidId(ok), ok);
    for (const bad of ['', 'a.b', 'a*', 'a>', 'a b', 'x'.repeat(65), 'é']) assert.ok(!isValidId(bad), bad);
  });

  it('builds region-first hierarchical subjects', () => {
    assert.equal(subjects.health('eu', 'media', 'm1'), 'strata.eu.svc.media.m1.health');
    assert.equal(subjects.heartbeat('eu', 'turn', 't1'), 'strata.eu.heartbeat.turn.t1');
    assert.equal(subjects.heartbeats('*', 'media'), 'strata.*.heartbeat.media.*');
    assert.equal(subjects.media('eu', 'm1', 'room.open'), 'strata.eu.media.m1.room.open');
    assert.equal(subjects.mediaAll('eu', 'm1'), 'strata.eu.media.m1.>');
    assert.equal(subjects.roomEvents('eu', 'r1'), 'strata.eu.room.r1.events');
    assert.equal(subjects.activeSpeaker('eu', 'r1'), 'strata.eu.room.r1.speaker');
    assert.equal(roomKey('eu', 'r1'), 'eu.r1');
  });

  it('refuses to build a subject from an unsafe id', () => {
    assert.throws(() => subjects.roomEvents('eu', 'a.b'), /invalid room id/);
    assert.throws(() => subjects.health('e*', 'media', 'm1'), /invalid region id/);
    assert.throws(() => subjects.media('eu', 'm1', 'Room.>'), /invalid media op/);
  });
});

describe('message schemas', () => {
  it('validates requests and names the offending path', () => {
    assert.ok(check(Health.request, {}).ok);
    const extra = check(Health.request, { x: 1 });
    assert.ok(!extra.ok);
    const r = check(TurnCredentials.request, { identity: 'a:b', ttlSeconds: 10 });
    assert.ok(!r.ok && r.errors.some((e) => e.startsWith('/identity')) && r.errors.some((e) => e.startsWith('/ttlSeconds')));
    assert.ok(check(GeoRoute.request, { probes: [{ region: 'eu', rttMs: 20 }] }).ok);
    assert.ok(!check(GeoRoute.request, { probes: new Array(33).fill({ region: 'eu', rttMs: 1 }) }).ok, 'bounded arrays');
  });

  it('checks the reply envelope', () => {
    assert.ok(check(TurnCredentials.reply, { ok: false, error: { code: 'FORBIDDEN', message: 'no' } }).ok);
    assert.ok(!check(TurnCredentials.reply, { ok: false, error: { code: 'MADE_UP', message: 'no' } }).ok);
    assert.ok(!check(TurnCredentials.reply, { ok: true, data: { urls: 'x' } }).ok);
  });

  it('lets a room placement name several nodes (cascade) but not none', () => {
    const base = { roomId: 'r', region: 'eu', createdAt: 1 };
    assert.ok(
      check(RoomPlacement, {
        ...base,
        nodes: [
          { nodeId: 'a', region: 'eu', since: 1 },
          { nodeId: 'b', region: 'us', since: 2 },
        ],
      }).ok,
    );
    assert.ok(!check(RoomPlacement, { ...base, nodes: [] }).ok);
  });

  it('rejects heartbeats of unknown service kinds', () => {
    const beat = {
      kind: 'media',
      id: 'm1',
      region: 'eu',
      version: '1',
      startedAt: 1,
      ts: 2,
      intervalMs: 1000,
      endpoints: {},
      load: { score: 0, cpu: 0, rssBytes: 1, details: {} },
      draining: false,
    };
    assert.ok(check(Heartbeat.schema, beat).ok);
    assert.ok(!check(Heartbeat.schema, { ...beat, kind: 'database' }).ok);
  });
});
