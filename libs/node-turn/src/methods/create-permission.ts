// CreatePermission (RFC 8656 section 10). Ported from node-turn 0.0.6 lib/methods/createPermission.js (MIT, Atlantis Software).
import type { Message } from '../message.js';
import type { Server } from '../server.js';

export function createPermission(server: Server, msg: Message, reply: Message): void {
  const allocation = msg.allocation;
  if (!allocation) return reply.reject(437, 'Allocation Mismatch');
  const peers = msg.getAttributes('xor-peer-address');
  if (peers.length === 0) return reply.reject(400, 'Bad Request');
  // All or none: one refused peer refuses the request (RFC 8656 section 10.2).
  if (peers.some((p) => p.family !== allocation.relayedTransportAddress.family)) return reply.reject(443, 'Peer Address Family Mismatch');
  if (!peers.every((p) => server.peerAllowed(p))) return reply.reject(403, 'Forbidden');
  for (const peer of peers) allocation.permit(peer.address);
  reply.addAttribute('software', server.software);
  reply.resolve();
}
