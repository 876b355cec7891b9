// The client-facing UDP listeners. Ported from node-turn 0.0.6 lib/network.js (MIT, Atlantis Software).
import { createSocket, type Socket } from 'node:dgram';
import { Address } from './address.js';
import { FAMILY, PROTOCOL } from './constants.js';
import { Message } from './message.js';
import { Transport } from './transport.js';
import type { Server } from './server.js';

export class Network {
  readonly sockets: Socket[] = [];

  constructor(private readonly server: Server) {}

  start(): Promise<void> {
    const bound: Promise<void>[] = [];
    for (const ip of this.server.listeningIps) {
      const dst = new Address(ip, this.server.listeningPort);
      if (dst.family === FAMILY.IPV6 && ip.startsWith('fe80:') && !ip.includes('%')) {
        this.server.debug('FATAL', 'local-link ipv6 address require a specified interface ex: fe80::0000:0000:0000:0000%eth0');
        continue;
      }
      const socket = createSocket(dst.family === FAMILY.IPV6 ? 'udp6' : 'udp4');
      socket.on('error', (err) => this.server.debug('FATAL', err));
      socket.on('message', (buf, rinfo) => this.receive(socket, dst, buf, rinfo.address, rinfo.port));
      socket.on('close', () => this.server.debug('INFO', `Server is no more listening on ${ip}:${this.server.listeningPort}`));
      bound.push(
        new Promise<void>((resolve) => {
          socket.once('listening', () => {
            this.server.debug('INFO', `Server is listening on ${ip}:${socket.address().port}`);
            resolve();
          });
          socket.once('error', () => resolve());
        }),
      );
      socket.bind({ address: ip, port: this.server.listeningPort, exclusive: true });
      this.sockets.push(socket);
    }
    return Promise.all(bound).then(() => undefined);
  }

  /** One datagram from a client. Nothing here may throw out of the socket's event handler. */
  private receive(socket: Socket, local: Address, buf: Buffer, ip: string, port: number): void {
    try {
      // The socket's own address, since node does not tell the destination of a datagram (nodejs/node#1649).
      const dst = local.port === 0 ? new Address(local.address, socket.address().port) : local;
      const transport = new Transport(PROTOCOL.UDP, new Address(ip, port), dst, socket);
      // The first two bits tell the two apart: 00 STUN, 01 ChannelData (RFC 8656 section 12).
      if (((buf[0] ?? 0) & 0xc0) === 0x40) return this.server.handleChannelData(transport, buf);
      const msg = new Message(this.server, transport);
      if (msg.read(buf)) this.server.handle(msg);
    } catch (err) {
      this.server.debug('ERROR', err);
    }
  }

  stop(): void {
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    this.sockets.length = 0;
  }
}
