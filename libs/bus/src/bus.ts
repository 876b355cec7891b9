import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Static, TSchema } from '@sinclair/typebox';
import { StrataError, check, memoryBuckets, type EventDef, type EventOf, type Reply, type RequestOf, type ResponseOf, type RpcDef } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import { StorageType, connect, type ConnectionOptions, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { decode, encode } from './codec.js';
import { TypedKv } from './kv.js';
import { ReplyMux } from './reply-mux.js';
import { extractTrace, injectTrace } from './trace.js';

export interface BusOptions {
  servers: string | string[];
  /** Shown in `nats server report connections`; use `<kind>-<nodeId>`. */
  name: string;
  logger: Logger;
  requestTimeoutMs?: number;
  /** Keep trying the first connection, logging why it fails (services starting before nats-server); refused credentials still fail at once. */
  waitOnFirstConnect?: boolean;
  /** User and password; neither: no authentication. */
  user?: string;
  pass?: string;
  /**
   * Prefix of the subjects replies come back on (`_INBOX` unless set): a service's NATS user
   * may subscribe to its own (`_INBOX.<kind>.>`) and to no other service's replies.
   */
  inboxPrefix?: string;
  /**
   * Replicas of the KV buckets this bus creates (1 unless set). A bucket that exists is used as
   * it is: its replicas change only through the stream's config (`nats stream edit`).
   */
  kvReplicas?: number;
}

export interface KvOptions {
  ttlMs?: number;
  history?: number;
  /**
   * Where the server keeps the bucket (default: memory for protocol's `memoryBuckets`, file for the rest). Memory suits state its holders can write
   * again (see `TypedKv.generation`): a file store keeps each stream's last 4 MiB block in
   * memory as well, a cost that a bucket churned by every join keeps paying.
   */
  storage?: 'file' | 'memory';
}

export interface HandlerContext {
  subject: string;
  headers: MsgHdrs | undefined;
}

export interface ServeOptions {
  queue?: string;
}

export interface RequestOptions {
  timeoutMs?: number;
}

const tracer = trace.getTracer('@strata/bus');

/**
 * Typed NATS: every message that leaves is checked against its schema, every message that
 * arrives is checked before a handler sees it. A bad message is answered with an error
 * envelope (requests) or dropped and logged (events); it never throws out of a callback.
 */
export class Bus {
  /** Handlers still running: drain() waits for them so their replies are not lost. */
  private readonly inflight = new Set<Promise<void>>();
  private readonly subs = new Set<Subscription>();
  /** Not among `subs`: drain() must still receive the replies its running handlers wait for. */
  private readonly replies: ReplyMux;
  /** Buckets whose storage and replicas kv() compared with those asked for already. */
  private readonly settingsChecked = new Set<string>();
  private readonly reconnectListeners = new Set<() => void>();

  private constructor(
    readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly requestTimeoutMs: number,
    inboxPrefix?: string,
    private readonly kvReplicas = 1,
  ) {
    this.replies = new ReplyMux(nc, log, inboxPrefix);
  }

  static async connect(opts: BusOptions): Promise<Bus> {
    const options: ConnectionOptions = {
      servers: opts.servers,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // nats.js otherwise captures two stack traces per request (its own "async traces") on the
      // chance it fails: a third of a gateway's CPU per join. Our errors name the subject instead.
      noAsyncTraces: true,
      ...(opts.user ? { user: opts.user, pass: opts.pass ?? '' } : {}),
      ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
    };
    const nc = opts.waitOnFirstConnect ? await connectWhenReachable(options, opts.logger) : await connect(options);
    const bus = new Bus(nc, opts.logger, opts.requestTimeoutMs ?? 5000, opts.inboxPrefix, opts.kvReplicas);
    void bus.watchStatus();
    opts.logger.info({ server: nc.getServer() }, 'connected to NATS');
    return bus;
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'pingTimer') continue;
      this.log.info({ natsStatus: s.type, data: String(s.data) }, 'NATS connection status');
      if (s.type === 'reconnect')
        for (const listener of this.reconnectListeners) {
          try {
            listener();
          } catch (err) {
            this.log.error({ err }, 'NATS reconnect listener failed');
          }
        }
    }
  }

  /**
   * Calls `listener` every time the connection is back after a loss (not on the first connect).
   * The server may be another one, or the same one restarted without its JetStream state: a
   * holder of state in KV checks its buckets' `generation()` then. Returns the unsubscriber.
   */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Sends a request and returns the responder's data; a remote error is thrown as StrataError. */
  async request<D extends RpcDef>(def: D, subject: string, req: RequestOf<D>, opts: RequestOptions = {}): Promise<ResponseOf<D>> {
    const valid = check(def.request, req);
    if (!valid.ok) throw new StrataError('INVALID_MESSAGE', `${def.name} request: ${valid.errors.join('; ')}`);
    return tracer.startActiveSpan(`${def.name} send`, { kind: SpanKind.CLIENT, attributes: { 'messaging.destination.name': subject } }, async (span) => {
      try {
        const msg = await this.replies.request(subject, encode(req), opts.timeoutMs ?? this.requestTimeoutMs, injectTrace());
        const reply = decode(msg.data);
        const checked = check(def.reply, reply);
        if (!checked.ok) throw new StrataError('INTERNAL', `${def.name} reply from ${subject} is invalid: ${checked.errors.join('; ')}`);
        const r = checked.value as Reply<ResponseOf<D>>;
        if (!r.ok) throw new StrataError(r.error.code, r.error.message);
        return r.data;
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /** Answers requests on `subject` (wildcards allowed) with `handler`. */
  serve<D extends RpcDef>(
    def: D,
    subject: string,
    handler: (req: RequestOf<D>, ctx: HandlerContext) => Promise<ResponseOf<D>> | ResponseOf<D>,
    opts: ServeOptions = {},
  ): Subscription {
    return this.listen(subject, opts, (msg) => {
      const respond = (reply: Reply<ResponseOf<D>>): void => {
        if (!msg.reply) return;
        try {
          msg.respond(encode(reply));
        } catch (e) {
          this.log.warn({ err: e, subject: msg.subject }, 'could not send reply');
        }
      };
      const parent = extractTrace(msg.headers);
      const span = tracer.startSpan(`${def.name} process`, { kind: SpanKind.SERVER, attributes: { 'messaging.destination.name': msg.subject } }, parent);
      this.track(
        context.with(trace.setSpan(parent, span), async () => {
          try {
            if (!msg.reply) throw new StrataError('BAD_REQUEST', 'request has no reply subject');
            const checked = check(def.request, decode(msg.data));
            if (!checked.ok) throw new StrataError('INVALID_MESSAGE', `${def.name}: ${checked.errors.join('; ')}`);
            const data = await handler(checked.value as RequestOf<D>, { subject: msg.subject, headers: msg.headers });
            const out = check(def.response, data);
            if (!out.ok) {
              this.log.error({ subject: msg.subject, errors: out.errors }, `${def.name}: handler produced an invalid response`);
              throw new StrataError('INTERNAL', `${def.name}: invalid response`);
            }
            respond({ ok: true, data: out.value as ResponseOf<D> });
          } catch (e) {
            const se = StrataError.from(e);
            // CAPACITY is a full node saying so, and its caller tries another (a join finding
            // a leg full): routine, unlike a refused input (warn) or a fault of ours (error).
            const level = se.code === 'INTERNAL' ? 'error' : se.code === 'CAPACITY' ? 'info' : 'warn';
            this.log[level]({ subject: msg.subject, code: se.code, err: se.code === 'INTERNAL' ? e : undefined }, `${def.name} failed: ${se.message}`);
            span.setStatus({ code: SpanStatusCode.ERROR, message: se.message });
            respond({ ok: false, error: se.toBody() });
          } finally {
            span.end();
          }
        }),
      );
    });
  }

  publish<D extends EventDef>(def: D, subject: string, event: EventOf<D>): void {
    const valid = check(def.schema, event);
    if (!valid.ok) throw new StrataError('INVALID_MESSAGE', `${def.name} event: ${valid.errors.join('; ')}`);
    this.nc.publish(subject, encode(event), { headers: injectTrace() });
  }

  /** Invalid events are dropped and logged; a throwing handler is logged, never fatal. */
  subscribe<D extends EventDef>(
    def: D,
    subject: string,
    handler: (event: EventOf<D>, ctx: HandlerContext) => void | Promise<void>,
    opts: ServeOptions = {},
  ): Subscription {
    return this.listen(subject, opts, (msg) => {
      this.track(
        context.with(extractTrace(msg.headers), async () => {
          try {
            let payload: unknown;
            try {
              payload = decode(msg.data);
            } catch (e) {
              this.log.warn({ subject: msg.subject, code: StrataError.from(e).code }, `dropped unreadable ${def.name} event: ${StrataError.from(e).message}`);
              return;
            }
            const checked = check(def.schema, payload);
            if (!checked.ok) {
              this.log.warn({ subject: msg.subject, errors: checked.errors }, `dropped invalid ${def.name} event`);
              return;
            }
            await handler(checked.value as EventOf<D>, { subject: msg.subject, headers: msg.headers });
          } catch (e) {
            this.log.error({ err: e, subject: msg.subject }, `${def.name} handler failed`);
          }
        }),
      );
    });
  }

  /** A subscription this bus keeps track of (for drain), with transport errors logged. */
  private listen(subject: string, opts: ServeOptions, onMsg: (msg: Msg) => void): Subscription {
    const sub = this.nc.subscribe(subject, {
      ...(opts.queue ? { queue: opts.queue } : {}),
      callback: (err, msg) => {
        if (err) this.log.error({ err, subject }, 'subscription error');
        else onMsg(msg);
      },
    });
    this.subs.add(sub);
    void sub.closed.finally(() => this.subs.delete(sub));
    return sub;
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** A JetStream KV bucket whose values are validated against `schema`. Created if missing, with the bus's `kvReplicas`. */
  async kv<S extends TSchema>(bucket: string, schema: S, opts: KvOptions = {}): Promise<TypedKv<Static<S>>> {
    const storage = opts.storage ?? (memoryBuckets.has(bucket) ? 'memory' : 'file');
    const open = () =>
      this.nc.jetstream().views.kv(bucket, {
        history: opts.history ?? 1,
        replicas: this.kvReplicas,
        storage: storage === 'memory' ? StorageType.Memory : StorageType.File,
        ...(opts.ttlMs ? { ttl: opts.ttlMs } : {}),
      });
    const kv = await open().catch((err: unknown) => {
      // A lone server refuses more than one replica, a cluster more than it has servers: say which setting asked.
      if (this.kvReplicas <= 1) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new StrataError('UNAVAILABLE', `KV bucket ${bucket} with ${this.kvReplicas} replicas (NATS_KV_REPLICAS): ${why}`);
    });
    if (!this.settingsChecked.has(bucket)) {
      // A bucket made before keeps its storage and replicas: say so once, with what changes them.
      // Advisory: a bucket this call just made may have no stream leader to answer yet.
      this.settingsChecked.add(bucket);
      const status = await kv.status().catch((err: unknown) => {
        this.log.debug({ err, bucket }, 'could not read the KV bucket settings');
        return null;
      });
      const made = status && (status.storage === StorageType.Memory ? 'memory' : 'file');
      if (made && made !== storage)
        this.log.warn(
          { bucket, storage: made, wanted: storage },
          `KV bucket ${bucket} is on ${made} storage, not ${storage}: it existed before; docs/operations.md, "State in KV", says how to move it`,
        );
      if (status && status.replicas < this.kvReplicas)
        this.log.warn(
          { bucket, replicas: status.replicas, kvReplicas: this.kvReplicas },
          `KV bucket ${bucket} has ${status.replicas} replica(s), fewer than NATS_KV_REPLICAS: it existed before; \`nats stream edit KV_${bucket} --replicas ${this.kvReplicas}\` changes it`,
        );
    }
    return new TypedKv<Static<S>>(kv, bucket, schema, this.log, await this.nc.jetstreamManager(), opts.history ?? 1, undefined, open);
  }

  /** Stops taking messages, lets running handlers reply, then closes. Safe to call twice. */
  async drain(): Promise<void> {
    if (this.nc.isClosed() || this.nc.isDraining()) return this.nc.closed().then(() => undefined);
    await Promise.all([...this.subs].map((s) => s.drain().catch(() => undefined)));
    await Promise.allSettled([...this.inflight]);
    if (!this.nc.isClosed() && !this.nc.isDraining()) await this.nc.drain();
  }

  closed(): Promise<void | Error> {
    return this.nc.closed();
  }
}

/** Errors that another attempt cannot mend: the service's credentials or its server list are wrong. */
const FATAL_CONNECT_ERRORS = new Set(['AUTHORIZATION_VIOLATION', 'AUTHENTICATION_EXPIRED', 'BAD_AUTHENTICATION', 'PERMISSIONS_VIOLATION']);

/**
 * The first connection of a service that may start before its nats-server (`npm run dev`, a
 * compose stack): tries again until a server answers, saying so in the log (nats.js's own
 * `waitOnFirstConnect` retries silently, so a service that cannot reach NATS looked dead), and
 * gives up at once on a refusal of its credentials, which no retry mends.
 */
async function connectWhenReachable(options: ConnectionOptions, log: Logger): Promise<NatsConnection> {
  let delay = 250;
  let lastLogged = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(options);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && FATAL_CONNECT_ERRORS.has(code)) {
        log.fatal({ err, servers: options.servers, user: options.user }, "NATS refused this service's credentials");
        throw err;
      }
      // The first failure, then one line every 10 s: enough to see why, not a line per try.
      if (attempt === 1 || Date.now() - lastLogged >= 10_000) {
        log.warn({ err, servers: options.servers, attempt }, 'NATS not reachable yet; trying again');
        lastLogged = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}
