import { StrataError } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import { ErrorCode, createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';

interface Waiting {
  subject: string;
  resolve(msg: Msg): void;
  reject(err: StrataError): void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply over one wildcard reply subscription per connection, the way nats.js's own
 * `request()` multiplexes, minus its costs on a gateway's hot path: nats.js makes an error
 * object (a stack capture) for every request it completes, to reject a promise nobody awaits
 * any more. Here a request is a token in a map, a timer and a publish with a reply subject;
 * NATS's no-responders status (503, empty payload) is answered as UNAVAILABLE, silence as
 * TIMEOUT.
 */
export class ReplyMux {
  private readonly prefix: string;
  private readonly waiting = new Map<string, Waiting>();
  private sub: Subscription | undefined;
  private next = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    inboxPrefix?: string,
  ) {
    this.prefix = `${createInbox(inboxPrefix)}.`;
    void nc.closed().then(() => this.failAll('the NATS connection closed'));
  }

  get pending(): number {
    return this.waiting.size;
  }

  request(subject: string, data: Uint8Array, timeoutMs: number, headers: MsgHdrs | undefined): Promise<Msg> {
    this.sub ??= this.nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => this.onReply(err, msg) });
    const token = (this.next++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(new StrataError('TIMEOUT', `no reply on ${subject} in time`));
      }, timeoutMs);
      this.waiting.set(token, { subject, resolve, reject, timer });
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, ...(headers ? { headers } : {}) });
      } catch (err) {
        this.settle(token)?.reject(publishError(err, subject));
      }
    });
  }

  private settle(token: string): Waiting | undefined {
    const w = this.waiting.get(token);
    if (!w) return undefined;
    this.waiting.delete(token);
    clearTimeout(w.timer);
    return w;
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) {
      this.log.warn({ err }, 'reply subscription error');
      return;
    }
    const w = this.settle(msg.subject.slice(this.prefix.length));
    if (!w) return; // answered after its timeout
    if (msg.data.length === 0 && msg.headers?.code === 503) w.reject(new StrataError('UNAVAILABLE', `no responder on ${w.subject}`));
    else w.resolve(msg);
  }

  private failAll(why: string): void {
    for (const token of [...this.waiting.keys()]) {
      const w = this.settle(token);
      w?.reject(new StrataError('UNAVAILABLE', `request on ${w.subject} failed: ${why}`));
    }
  }
}

function publishError(err: unknown, subject: string): StrataError {
  const code = (err as { code?: string } | null)?.code;
  if (code === ErrorCode.MaxPayloadExceeded) return new StrataError('TOO_LARGE', `request on ${subject} exceeds the server's max payload`);
  return new StrataError('UNAVAILABLE', `request on ${subject} failed: ${err instanceof Error ? err.message : String(err)}`);
}
