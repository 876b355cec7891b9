// One TCP or TLS connection from a client: one 5-tuple, so at most one allocation, which lives no longer
// than the connection (RFC 8656 section 3.1). Not in node-turn 0.0.6, which was UDP only.
import type { Socket } from 'node:net';
import { Address } from './address.js';
import { PROTOCOL } from './constants.js';
import { FrameReader } from './framing.js';
import { Transport, type ClientSocket } from './transport.js';
import type { Server } from './server.js';

/** Above this many unsent bytes, relayed data to the client is dropped (it is loss-tolerant media; the client reads too slowly). */
export const DROP_RELAYED_ABOVE = 1 << 20;
/** Above this many unsent bytes the client is not reading at all: the connection is closed. */
export const CLOSE_ABOVE = 4 << 20;

export class Connection implements ClientSocket {
  readonly transport: Transport;
  private readonly reader = new FrameReader();
  private readonly idle: NodeJS.Timeout;
  /** relayed messages dropped because the client did not read fast enough */
  dropped = 0;

  /** Throws when the socket's addresses cannot be read (it closed already): the caller destroys it. */
  constructor(
    private readonly server: Server,
    private readonly socket: Socket,
    readonly secure: boolean,
    idleTimeoutMs: number,
    /** the client's IP as node spelled it when accepted (the key of the network's count per IP) */
    readonly remoteIp: string,
  ) {
    const src = new Address(String(socket.remoteAddress), Number(socket.remotePort));
    const dst = new Address(String(socket.localAddress), Number(socket.localPort));
    this.transport = new Transport(PROTOCOL.TCP, src, dst, this);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // A reset or a failed write is this connection's end, never the process's.
    socket.on('error', (err) => this.server.debug('DEBUG', `${this.describe()}: ${err.message}`));
    socket.on('close', () => this.onClose());
    // A connection that allocates nothing and sends no complete message is closed: a client that opens
    // connections and trickles bytes must not hold them (and their buffers) forever.
    this.idle = setTimeout(() => this.idleCheck(), idleTimeoutMs);
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  get fiveTuple(): string {
    return this.transport.get5Tuple();
  }

  /** To the client. Relayed data is dropped, not queued without bound, when the client does not keep up. */
  send(msg: Buffer, _port: number, _address: string, callback?: (error: Error | null) => void): void {
    if (this.socket.destroyed || !this.socket.writable) return callback?.(new Error('connection closed'));
    const queued = this.socket.writableLength;
    if (queued > CLOSE_ABOVE) {
      this.server.debug('WARN', `${this.describe()}: client not reading (${queued} bytes queued), closing`);
      this.socket.destroy();
      return callback?.(new Error('connection closed: client not reading'));
    }
    if (queued > DROP_RELAYED_ABOVE && isRelayedData(msg)) {
      this.dropped++;
      return callback?.(null);
    }
    if (callback) this.socket.write(msg, (err) => callback(err ?? null));
    else this.socket.write(msg);
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    const frames = this.reader.push(chunk);
    if (frames === 'invalid') {
      this.server.stats.malformed++;
      return this.fail('bytes that begin no STUN or ChannelData message');
    }
    for (const frame of frames) {
      this.idle.refresh();
      if (!this.server.receive(this.transport, frame)) return this.fail('a malformed STUN message');
      // A handler may have closed the connection; what follows in this read is not for anyone.
      if (this.socket.destroyed) return;
    }
  }

  /** The stream is out of step or hostile: this connection ends, nothing else is touched. */
  private fail(why: string): void {
    this.server.debug('DEBUG', `${this.describe()}: ${why}, closing`);
    this.socket.destroy();
  }

  private idleCheck(): void {
    if (this.server.allocations[this.fiveTuple]) return void this.idle.refresh();
    this.fail('no allocation and no message for too long');
  }

  private onClose(): void {
    clearTimeout(this.idle);
    // The allocation belongs to this 5-tuple, which no longer exists.
    this.server.allocations[this.fiveTuple]?.destroy();
    this.server.network.forget(this);
  }

  private describe(): string {
    return `${this.secure ? 'TLS' : 'TCP'} ${this.transport.src}`;
  }
}

/** ChannelData, or a Data indication (type 0x0017): what a peer sent, as opposed to an answer to the client. */
function isRelayedData(msg: Buffer): boolean {
  return ((msg[0] ?? 0) & 0xc0) === 0x40 || (msg.length >= 2 && msg.readUInt16BE(0) === 0x0017);
}
