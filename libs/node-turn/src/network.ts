// The client-facing listeners: UDP (ported from node-turn 0.0.6 lib/network.js, MIT, Atlantis Software),
// and TCP and TLS, which are new (RFC 8656 section 3.1; the relays stay UDP).
import type { Socket } from 'node:dgram';
import { createServer as createTcpServer, type Server as NetServer, type Socket as NetSocket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Address } from './address.js';
import { Connection } from './connection.js';
import { FAMILY } from './constants.js';
import { createUdpSocket } from './udp.js';
import type { Server } from './server.js';

export interface StreamListener {
  readonly secure: boolean;
  readonly server: NetServer;
}

export class Network {
  readonly sockets: Socket[] = [];
  readonly listeners: StreamListener[] = [];
  readonly connections = new Set<Connection>();
  /** open TCP and TLS connections per client IP, for the server's maxConnectionsPerIp */
  private readonly perIp = new Map<string, number>();

  constructor(private readonly server: Server) {}

  /**
   * Resolves once every listener is bound. A UDP socket that cannot bind is logged and skipped, as in
   * node-turn; a TCP or TLS listener that cannot listen rejects, since it was asked for explicitly.
   */
  async start(): Promise<void> {
    const udp: Promise<void>[] = [];
    const ips: string[] = [];
    for (const ip of this.server.listeningIps) {
      const dst = new Address(ip, this.server.listeningPort);
      if (dst.family === FAMILY.IPV6 && ip.startsWith('fe80:') && !ip.includes('%')) {
        this.server.debug('FATAL', 'local-link ipv6 address require a specified interface ex: fe80::0000:0000:0000:0000%eth0');
        continue;
      }
      ips.push(ip);
      if (this.server.udp) udp.push(this.bindUdp(ip, dst));
    }
    await Promise.all(udp);
    const streams: Promise<void>[] = [];
    for (const ip of ips) {
      // TCP on the UDP port by default (the one bound, when the configured port is 0), as TURN URLs name one port for both.
      if (this.server.tcp) streams.push(this.listen(ip, this.server.tcp.port ?? this.udpPortOf(ip) ?? this.server.listeningPort, false));
      if (this.server.tls) streams.push(this.listen(ip, this.server.tls.port ?? 5349, true));
    }
    await Promise.all(streams);
  }

  private bindUdp(ip: string, dst: Address): Promise<void> {
    const socket = createUdpSocket(dst.family === FAMILY.IPV6 ? 'udp6' : 'udp4');
    // The socket's own address, since node does not tell the destination of a datagram (nodejs/node#1649): the port bound, once it is.
    let local = dst;
    socket.on('error', (err) => this.server.debug('FATAL', err));
    socket.on('message', (buf, rinfo) => this.receive(socket, local, buf, rinfo.address, rinfo.port));
    socket.on('close', () => this.server.debug('INFO', `Server is no more listening on ${ip}:${this.server.listeningPort}`));
    this.sockets.push(socket);
    const bound = new Promise<void>((resolve) => {
      socket.once('listening', () => {
        local = new Address(dst.address, socket.address().port);
        this.server.debug('INFO', `Server is listening on ${ip}:${local.port}`);
        resolve();
      });
      socket.once('error', () => resolve());
    });
    socket.bind({ address: ip, port: this.server.listeningPort, exclusive: true });
    return bound;
  }

  private udpPortOf(ip: string): number | undefined {
    for (const s of this.sockets) {
      try {
        const a = s.address();
        if (a.address === ip || new Address(a.address, 0).address === new Address(ip, 0).address) return a.port;
      } catch {
        // not bound
      }
    }
    return undefined;
  }

  private listen(ip: string, port: number, secure: boolean): Promise<void> {
    const tls = this.server.tls;
    const server =
      secure && tls ? createTlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: this.server.streamIdleTimeout * 1000 }) : createTcpServer();
    if (secure) {
      server.on('secureConnection', (socket: NetSocket) => this.accept(socket, true));
      // A failed handshake is the client's problem; node destroys its socket.
      server.on('tlsClientError', (err: Error) => this.server.debug('DEBUG', `TLS handshake failed: ${err.message}`));
    } else {
      server.on('connection', (socket: NetSocket) => this.accept(socket, false));
    }
    this.listeners.push({ secure, server });
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: ip, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.server.debug('ERROR', err));
        this.server.debug('INFO', `Server is listening on ${secure ? 'tls' : 'tcp'} ${ip}:${port}`);
        resolve();
      });
    });
  }

  private accept(socket: NetSocket, secure: boolean): void {
    const ip = socket.remoteAddress;
    // Closed before we looked at it (its addresses are gone).
    if (ip === undefined) return void socket.destroy();
    const held = this.perIp.get(ip) ?? 0;
    const cap = this.server.maxConnectionsPerIp;
    if (cap > 0 && held >= cap) {
      // One host must not hold every descriptor (each connection holds buffers, and may hold an allocation).
      this.server.stats.connectionRejections++;
      this.server.debug('WARN', `${secure ? 'TLS' : 'TCP'} connection from ${ip} refused: it holds ${held}, the cap`);
      return void socket.destroy();
    }
    try {
      this.connections.add(new Connection(this.server, socket, secure, this.server.streamIdleTimeout * 1000, ip));
      this.perIp.set(ip, held + 1);
    } catch (err) {
      this.server.debug('DEBUG', err);
      socket.destroy();
    }
  }

  /** A connection has closed. */
  forget(connection: Connection): void {
    if (!this.connections.delete(connection)) return;
    const n = (this.perIp.get(connection.remoteIp) ?? 0) - 1;
    if (n > 0) this.perIp.set(connection.remoteIp, n);
    else this.perIp.delete(connection.remoteIp);
  }

  /** Every port a listener is bound to (UDP, TCP and TLS), once started. */
  boundPorts(): number[] {
    return [...new Set([...this.bound()].map((l) => l.port))];
  }

  /** The port of each kind of listener (the first of each), once started: what clients are told. */
  ports(): { udp?: number; tcp?: number; tls?: number } {
    const out: { udp?: number; tcp?: number; tls?: number } = {};
    for (const { kind, port } of this.bound()) out[kind] ??= port;
    return out;
  }

  /** Each listener that is bound, with its kind and port, UDP sockets first. */
  private *bound(): Generator<{ kind: 'udp' | 'tcp' | 'tls'; port: number }> {
    for (const s of this.sockets) {
      let port: number;
      try {
        port = s.address().port;
      } catch {
        continue; // not bound
      }
      yield { kind: 'udp', port };
    }
    for (const l of this.listeners) {
      const a = l.server.address();
      if (a && typeof a === 'object') yield { kind: l.secure ? 'tls' : 'tcp', port: a.port };
    }
  }

  /** One datagram from a client. Nothing here may throw out of the socket's event handler. */
  private receive(socket: Socket, local: Address, buf: Buffer, ip: string, port: number): void {
    try {
      this.server.receiveDatagram(socket, local, buf, ip, port);
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
    for (const l of this.listeners) l.server.close();
    this.listeners.length = 0;
    // Closing a listener leaves its connections open.
    for (const c of [...this.connections]) c.close();
  }
}
