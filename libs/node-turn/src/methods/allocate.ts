// Allocate (RFC 8656 section 7). Ported from node-turn 0.0.6 lib/methods/allocate.js (MIT, Atlantis Software);
// EVEN-PORT, RESERVATION-TOKEN, REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY are new.
import type { Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { Address } from '../address.js';
import { Allocation } from '../allocation.js';
import { FAMILY, PROTOCOL, type Family } from '../constants.js';
import type { Message } from '../message.js';
import type { Server } from '../server.js';
import { createUdpSocket } from '../udp.js';

function successAttributes(server: Server, allocation: Allocation, reply: Message): void {
  reply.addAttribute('xor-relayed-address', allocation.relayedTransportAddress);
  reply.addAttribute('lifetime', allocation.lifetime);
  reply.addAttribute('xor-mapped-address', allocation.mappedAddress);
  reply.addAttribute('software', server.software);
}

export async function allocate(server: Server, msg: Message, reply: Message): Promise<void> {
  if (msg.allocation) {
    // A retransmission of the request that made the allocation gets the same answer.
    if (msg.allocation.transactionID === msg.transactionID) {
      msg.allocation.update();
      successAttributes(server, msg.allocation, reply);
      return reply.resolve();
    }
    return reply.reject(437, 'Allocation Mismatch');
  }
  const transport = msg.getAttribute('requested-transport');
  if (transport === undefined) return reply.reject(400, 'Bad Request');
  if (transport !== PROTOCOL.UDP) return reply.reject(442, 'Unsupported Transport Protocol');
  // node cannot set the DF bit, so DONT-FRAGMENT is an attribute we do not understand (RFC 8656 section 7.2).
  if (msg.getAttribute('dont-fragment')) return reply.reject(420, 'Unknown Attribute', [0x001a]);

  const token = msg.getAttribute('reservation-token');
  const evenPort = msg.getAttribute('even-port');
  const family = msg.getAttribute('requested-address-family');
  const additional = msg.getAttribute('additional-address-family');
  if (token !== undefined && (evenPort !== undefined || family !== undefined || additional !== undefined)) return reply.reject(400, 'Bad Request');
  if (family !== undefined && additional !== undefined) return reply.reject(400, 'Bad Request');
  // ADDITIONAL-ADDRESS-FAMILY asks for an IPv6 relay on top of the IPv4 one; IPv4 there is a bad request.
  if (additional !== undefined && additional !== FAMILY.IPV6) return reply.reject(400, 'Bad Request');
  if (family !== undefined && family !== FAMILY.IPV4 && family !== FAMILY.IPV6) return reply.reject(440, 'Address Family not Supported');
  const release = server.acquireQuota(msg.user?.username, msg.transport.src.address);
  if (!release) {
    server.stats.quotaRejections++;
    return reply.reject(486, 'Allocation Quota Reached');
  }
  let made = false;
  try {
    made = await place(server, msg, reply, release, { token, evenPort, family, additional });
  } finally {
    // Whatever stopped the allocation from being made, its place in the quotas is free again.
    if (!made) release();
  }
}

interface Placement {
  token: Buffer | undefined;
  evenPort: boolean | undefined;
  family: Family | undefined;
  additional: number | undefined;
}

/** Binds the relay and makes the allocation; false when it was not made (the reply says why, if anyone is left to tell). */
async function place(server: Server, msg: Message, reply: Message, release: () => void, { token, evenPort, family, additional }: Placement): Promise<boolean> {
  let socket: Socket;
  let reservation: Buffer | undefined;
  if (token !== undefined) {
    // The port a previous EVEN-PORT allocation reserved.
    const reserved = server.takeReservation(token);
    if (!reserved) {
      reply.reject(508, 'Insufficient Capacity');
      return false;
    }
    socket = reserved;
  } else {
    const ip = server.relayIpFor(msg, family ?? FAMILY.IPV4);
    if (ip === undefined) {
      reply.reject(440, 'Address Family not Supported');
      return false;
    }
    try {
      if (evenPort === undefined) socket = await bindRelay(server, ip);
      else if (!evenPort) socket = await bindRelay(server, ip, (p) => p % 2 === 0);
      else {
        // R bit: an even port N, and N + 1 kept for a later Allocate with the token.
        const [a, b] = await bindPair(server, ip);
        socket = a;
        reservation = server.reserve(b);
      }
    } catch {
      reply.reject(508, 'Insufficient Capacity');
      return false;
    }
  }
  // The connection may have closed while the port was being bound: nothing would ever free it.
  if (msg.transport.socket.closed) {
    socket.close();
    return false;
  }
  // The same 5-tuple may have allocated while the port was being bound.
  if (server.allocations[msg.transport.get5Tuple()]) {
    socket.close();
    reply.reject(437, 'Allocation Mismatch');
    return false;
  }
  // The request's LIFETIME, at most the maximum and at least the default (RFC 8656 section 7.2).
  const requested = msg.getAttribute('lifetime');
  const lifetime = Math.max(server.defaultAllocateLifetime, Math.min(requested ?? server.defaultAllocateLifetime, server.maxAllocateLifetime));
  const allocation = new Allocation(msg, server, [socket], lifetime, release);
  msg.allocation = allocation;
  successAttributes(server, allocation, reply);
  if (reservation) reply.addAttribute('reservation-token', reservation);
  if (additional !== undefined) {
    // One relayed address per allocation: the IPv4 one is given, the IPv6 one refused (RFC 8656 section 7.2).
    reply.addAttribute('address-error-code', { family: FAMILY.IPV6, code: 440, reason: 'Address Family not Supported' });
  }
  reply.resolve();
  return true;
}

function bindPort(ip: Address, port: number): Promise<Socket | undefined> {
  const socket = createUdpSocket(ip.family === FAMILY.IPV4 ? 'udp4' : 'udp6');
  return new Promise((resolve) => {
    socket.once('error', () => {
      socket.close();
      resolve(undefined);
    });
    socket.once('listening', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.bind({ address: ip.address, port, exclusive: true });
  });
}

/** Binds a UDP socket on a random port of minPort..maxPort that `accept` takes (port randomization, RFC 6056 algorithm 1), trying others when taken. */
export async function bindRelay(server: Server, ip: string, accept: (port: number) => boolean = () => true): Promise<Socket> {
  const address = new Address(ip, 0);
  const count = server.maxPort - server.minPort + 1;
  // Bounded both ways, so a range with no acceptable port (one odd port and EVEN-PORT) ends too.
  for (let draws = 0, binds = 0; draws < 1024 && binds < Math.min(count, 128); draws++) {
    const port = server.minPort + randomInt(count);
    if (!accept(port)) continue;
    binds++;
    const socket = await bindPort(address, port);
    if (socket) return socket;
  }
  throw new Error('no available port in range');
}

/** Two sockets on ports N and N + 1, N even. */
async function bindPair(server: Server, ip: string): Promise<[Socket, Socket]> {
  const address = new Address(ip, 0);
  for (let tries = 0; tries < 32; tries++) {
    const a = await bindRelay(server, ip, (p) => p % 2 === 0 && p + 1 <= server.maxPort);
    const b = await bindPort(address, a.address().port + 1);
    if (b) return [a, b];
    a.close();
  }
  throw new Error('no available port pair in range');
}
