import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for servers a test or a local region starts after choosing their port (a nats-server
 * told `-p`, a TURN service told its listening port before its clients are).
 *
 * Not port 0's answer: the OS hands that out of the ephemeral range, the same range every
 * outgoing connection takes its local port from, and between the check and the server's bind
 * one of the machine's hundreds of client sockets (NATS clients, fetches, WebRTC) may take it
 * (EADDRINUSE at start-up, one run in a few dozen). These come from below that range, at
 * random, each checked free for TCP and UDP both, and never twice from one process.
 */
const given = new Set<number>();

/** The first port of the machine's ephemeral range (Linux's setting; its default elsewhere). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 2048) return first;
  } catch {
    // not Linux: the IANA range starts at 49152
  }
  return 49152;
}

const LOWEST = 10_000;
/** Read once: the range is the machine's, and does not change under a running test. */
const EPHEMERAL_START = ephemeralStart();

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

/** A port free right now on `host` for TCP and UDP, outside the ephemeral range, not given out before by this process. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const span = Math.max(EPHEMERAL_START - LOWEST, 1000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * span);
    if (given.has(port)) continue;
    if ((await tcpFree(port, host)) && (await udpFree(port, host))) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port on ${host} between ${LOWEST} and ${LOWEST + span}`);
}
