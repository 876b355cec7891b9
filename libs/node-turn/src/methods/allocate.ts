// Allocate (RFC 8656 section 7). Ported from node-turn 0.0.6 lib/methods/allocate.js (MIT, Atlantis Software).
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { Address } from '../address.js';
import { Allocation } from '../allocation.js';
import { FAMILY, PROTOCOL } from '../constants.js';
import type { Message } from '../message.js';
import type { Server } from '../server.js';

function successAttributes(server: Server, allocation: Allocation, reply: Message): void {
  reply.addAttribute('xor-relayed-address', allocation.relayedTransportAddress);
  reply.addAttribute('lifetime', allocation.lifetime);
  reply.addAttribute('xor-mapped-address', allocation.mappedAddress);
  reply.addAttribute('software', server.software);
  reply.addAttribute('message-integrity');
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
  const token = msg.getAttribute('reservation-token');
  const evenPort = msg.getAttribute('even-port');
  if (token !== undefined && evenPort !== undefined) return reply.reject(400, 'Bad Request');
  // node-turn 0.0.6 had no working reservations or even ports.
  if (token !== undefined || evenPort !== undefined) return reply.reject(508, 'Insufficient Capacity');
  if (!server.checkQuota(msg.getAttribute('username'))) return reply.reject(486, 'Allocation Quota Reached');

  let socket: Socket;
  try {
    socket = await bindRelay(server, server.nextRelayIp(msg));
  } catch {
    return reply.reject(508, 'Insufficient Capacity');
  }
  // The request's LIFETIME, at most the maximum and at least the default (RFC 8656 section 7.2).
  const requested = msg.getAttribute('lifetime');
  const lifetime = Math.max(server.defaultAllocateLifetime, Math.min(requested ?? server.defaultAllocateLifetime, server.maxAllocateLifetime));
  // The same 5-tuple may have allocated while the port was being bound.
  if (server.allocations[msg.transport.get5Tuple()]) {
    socket.close();
    return reply.reject(437, 'Allocation Mismatch');
  }
  const allocation = new Allocation(msg, server, [socket], lifetime);
  msg.allocation = allocation;
  successAttributes(server, allocation, reply);
  reply.resolve();
}

/** Binds a UDP socket on a random port of minPort..maxPort (draft-ietf-tsvwg-port-randomization's algorithm 1), trying other ports when taken. */
export async function bindRelay(server: Server, ip: string, accept: (port: number) => boolean = () => true): Promise<Socket> {
  const address = new Address(ip, 0);
  const count = server.maxPort - server.minPort + 1;
  for (let tries = 0; tries < Math.min(count, 128); tries++) {
    const port = server.minPort + randomInt(count);
    if (!accept(port)) continue;
    const socket = createSocket(address.family === FAMILY.IPV4 ? 'udp4' : 'udp6');
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.once('listening', () => resolve(true));
      socket.bind({ address: address.address, port, exclusive: true });
    });
    if (ok) {
      socket.removeAllListeners('error');
      return socket;
    }
    socket.close();
  }
  throw new Error('no available port in range');
}
