// Refresh (RFC 8656 section 8). Ported from node-turn 0.0.6 lib/methods/refresh.js (MIT, Atlantis Software).
import type { Message } from '../message.js';
import type { Server } from '../server.js';

export function refresh(server: Server, msg: Message, reply: Message): void {
  const allocation = msg.allocation;
  if (!allocation) return reply.reject(437, 'Allocation Mismatch');
  const requested = msg.getAttribute('lifetime');
  const lifetime = requested === undefined ? server.defaultAllocateLifetime : requested === 0 ? 0 : Math.min(requested, server.maxAllocateLifetime);
  // LIFETIME 0 deletes the allocation.
  if (lifetime === 0) allocation.destroy();
  else allocation.update(lifetime);
  reply.addAttribute('lifetime', lifetime);
  reply.addAttribute('software', server.software);
  reply.resolve();
}
