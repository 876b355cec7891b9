// Send indications (RFC 8656 section 11). Ported from node-turn 0.0.6 lib/methods/send.js (MIT, Atlantis Software).
import type { Message } from '../message.js';
import type { Server } from '../server.js';

export function send(server: Server, msg: Message): void {
  const allocation = msg.allocation;
  const dst = msg.getAttribute('xor-peer-address');
  const data = msg.getAttribute('data');
  if (!allocation || !dst || !data) {
    server.debug('TRACE', `Invalid attribute for ${msg}`);
    return;
  }
  if (!server.peerAllowed(dst) || !allocation.toPeer(data, dst)) server.debug('TRACE', `No permission for ${msg}`);
}
