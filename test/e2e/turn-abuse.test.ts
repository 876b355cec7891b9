/**
 * The TURN service under abuse, as a real process beside nats-server: a slow-loris client holding TCP
 * connections with a byte at a time, garbage datagrams, truncated and out-of-step TCP frames. None of
 * it may crash the process or stall an allocation that is relaying meanwhile (turnutils_uclient, coturn's
 * client, counts what it loses), and every refusal shows in the heartbeat's counters.
 */
import { haveCommands, uclient, waitFor } from '@strata/harness';
import { Heartbeat, subjects } from '@strata/protocol';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Region } from '../helpers/region.js';
import { startTurnRegion, type TurnRegion } from '../helpers/turn-region.js';

const HAVE_COTURN_CLIENTS = await haveCommands('turnutils_uclient', 'turnutils_peer');
const CONNECTION_CAP = 20;
const IDLE_S = 2;

describe('TURN service under abuse', { timeout: 120_000, skip: HAVE_COTURN_CLIENTS ? false : 'coturn clients not installed' }, () => {
  let t: TurnRegion;
  let region: Region;
  let turnPort: number;
  let details: Record<string, unknown> = {};
  const sockets: Socket[] = [];

  before(async () => {
    t = await startTurnRegion({
      secret: 'turn-abuse-secret',
      identity: 'abuse',
      env: { TURN_TRANSPORTS: 'udp,tcp', TURN_MAX_CONNECTIONS_PER_IP: String(CONNECTION_CAP), TURN_STREAM_IDLE_TIMEOUT: `${IDLE_S}s` },
    });
    ({ region, turnPort } = t);
    region.bus.subscribe(Heartbeat, subjects.heartbeats(region.region, 'turn'), (b) => void (details = b.load.details));
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await t?.stop();
  });

  const base = () => t.uclientArgs();
  const alive = () => assert.equal(region.processes[0]?.exitStatus, undefined, 'the turn process is alive');
  const counter = (name: string) => Number(details[name] ?? 0);

  /** A TCP connection to the server that resolves when connected; `closed` when the server (or we) closed it. */
  const open = async (): Promise<{ socket: Socket; closed: Promise<number> }> => {
    const socket = connect({ host: '127.0.0.1', port: turnPort });
    sockets.push(socket);
    socket.on('error', () => {});
    const t0 = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - t0)));
    await new Promise<void>((resolve) => {
      socket.once('connect', resolve);
      socket.once('close', () => resolve());
    });
    return { socket, closed };
  };

  it('a slow-loris client gets its cap of connections, held only for the idle timeout, while another client relays without loss over UDP', async () => {
    const loris = await Promise.all(Array.from({ length: 2 * CONNECTION_CAP }, () => open()));
    // A STUN header a byte at a time, never complete: the trickle must not keep a connection open.
    const header = Buffer.from([0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, ...randomBytes(12)]);
    let sent = 0;
    const trickle = setInterval(() => {
      for (const { socket } of loris) if (!socket.destroyed) socket.write(header.subarray(sent % header.length, (sent % header.length) + 1));
      sent++;
    }, 200);
    try {
      // uclient runs for about 2 s (50 messages, 20 ms apart, ChannelData), over the loris's whole life.
      const run = uclient([...base(), '-n', '100', '-z', '20', '-c', '127.0.0.1']);
      const lifetimes = await Promise.all(loris.map((l) => l.closed));
      const refused = lifetimes.filter((ms) => ms < 500).length;
      assert.equal(refused, CONNECTION_CAP, `closed at once: the ones above the cap (lifetimes ${lifetimes.join(' ')} ms)`);
      for (const ms of lifetimes.filter((x) => x >= 500)) assert.ok(ms >= (IDLE_S - 0.5) * 1000 && ms < (IDLE_S + 3) * 1000, `held ~${IDLE_S} s, not ${ms} ms`);
      const t = await run;
      assert.equal(t.lost, 0, t.output);
      assert.equal(t.received, t.sent, t.output);
    } finally {
      clearInterval(trickle);
    }
    alive();
    await waitFor('the refusals in a heartbeat', () => (counter('connectionRejections') >= CONNECTION_CAP ? true : undefined), 5_000);
  });

  it('garbage datagrams and broken TCP frames are dropped and counted; the server still relays over UDP and TCP', async () => {
    const before = counter('malformed');
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    try {
      for (let i = 0; i < 200; i++) {
        const junk = randomBytes(1 + (i % 60) * 20);
        junk[0] = (junk[0] ?? 0) | 0x80; // neither STUN (00) nor ChannelData (01)
        udp.send(junk, turnPort, '127.0.0.1');
        // Paced, so that all of it reaches the server: 200 at once overflow its socket's receive buffer on a busy machine, and the kernel drops them before anyone counts.
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 10));
      }
      // A STUN header that claims more than the datagram holds, and ChannelData longer than itself.
      udp.send(Buffer.from([0x00, 0x01, 0x00, 0x40, 0x21, 0x12, 0xa4, 0x42, ...randomBytes(12)]), turnPort, '127.0.0.1');
      udp.send(Buffer.from([0x40, 0x00, 0xff, 0xff, 1, 2, 3]), turnPort, '127.0.0.1');
    } finally {
      await new Promise((r) => setTimeout(r, 200));
      udp.close();
    }
    // Out of step: bytes that begin no message close that connection at once; a frame cut short and left open is closed when idle.
    const outOfStep = await open();
    outOfStep.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assert.ok((await outOfStep.closed) < 1000, 'closed at once');
    const cut = await open();
    cut.socket.write(Buffer.from([0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3]));
    await cut.closed;
    alive();
    const overUdp = await uclient([...base(), '-n', '50', '-z', '10', '127.0.0.1']);
    assert.equal(overUdp.lost, 0, overUdp.output);
    const overTcp = await uclient([...base(), '-t', '-n', '50', '-z', '10', '127.0.0.1']);
    assert.equal(overTcp.lost, 0, overTcp.output);
    assert.equal(overTcp.received, overTcp.sent, overTcp.output);
    await waitFor('the garbage counted in a heartbeat', () => (counter('malformed') >= before + 203 ? true : undefined), 5_000);
  });
});
