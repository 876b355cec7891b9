// ChannelBind (RFC 8656 section 12). Ported from node-turn 0.0.6 lib/methods/channelBind.js (MIT, Atlantis Software).
import type { Message } from '../message.js';
import type { Server } from '../server.js';

export function channelBind(server: Server, msg: Message, reply: Message): void {
  const allocation = msg.allocation;
  if (!allocation) return reply.reject(437, 'Allocation Mismatch');
  const channelNumber = msg.getAttribute('channel-number');
  const peer = msg.getAttribute('xor-peer-address');
  if (channelNumber === undefined || !peer) return reply.reject(400, 'Bad Request');
  if (channelNumber < 0x4000 || channelNumber > 0x7ffe) return reply.reject(400, 'Bad Request');
  const bound = allocation.getPeerChannelNumber(peer);
  // The channel must not be bound to another peer, nor the peer to another channel.
  if (allocation.channelBindings.has(channelNumber) && bound !== channelNumber) return reply.reject(400, 'Bad Request');
  if (bound !== undefined && bound !== channelNumber) return reply.reject(400, 'Bad Request');
  allocation.permit(peer.address);
  allocation.channelBindings.set(channelNumber, peer);
  server.debug('TRACE', `channel ${channelNumber} bound to ${peer}`);
  reply.resolve();
}
