// ChannelBind (RFC 8656 section 12). Ported from node-turn 0.0.6 lib/methods/channelBind.js (MIT, Atlantis Software).
import { CHANNEL_MAX, CHANNEL_MIN } from '../constants.js';
import type { Message } from '../message.js';
import type { Server } from '../server.js';

export function channelBind(server: Server, msg: Message, reply: Message): void {
  const allocation = msg.allocation;
  if (!allocation) return reply.reject(437, 'Allocation Mismatch');
  const channelNumber = msg.getAttribute('channel-number');
  const peer = msg.getAttribute('xor-peer-address');
  if (channelNumber === undefined || !peer) return reply.reject(400, 'Bad Request');
  if (channelNumber < CHANNEL_MIN || channelNumber > CHANNEL_MAX) return reply.reject(400, 'Bad Request');
  const bound = allocation.getPeerChannelNumber(peer);
  // The channel must not be bound to another peer, nor the peer to another channel.
  if (allocation.channelBindings.has(channelNumber) && bound !== channelNumber) return reply.reject(400, 'Bad Request');
  if (bound !== undefined && bound !== channelNumber) return reply.reject(400, 'Bad Request');
  if (peer.family !== allocation.relayedTransportAddress.family) return reply.reject(443, 'Peer Address Family Mismatch');
  if (!server.peerAllowed(peer)) return reply.reject(403, 'Forbidden');
  allocation.bindChannel(channelNumber, peer);
  server.debug('TRACE', `channel ${channelNumber} bound to ${peer}`);
  // node-turn 0.0.6 answered without MESSAGE-INTEGRITY; toBuffer now adds it to every authenticated response.
  reply.resolve();
}
