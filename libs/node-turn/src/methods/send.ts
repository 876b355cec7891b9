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
  const permission = allocation.permissions.get(dst.address);
  if (permission === undefined || permission < Date.now()) {
    server.debug('TRACE', `No permission for ${msg}`);
    return;
  }
  allocation.sockets[0]?.send(data, dst.port, dst.address, (err) => {
    if (err) server.debug('ERROR', err);
  });
}
