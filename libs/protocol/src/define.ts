import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ErrorBody } from './errors.js';

/** A request/reply exchange: what the caller sends and what the responder answers. */
export interface RpcDef<Req extends TSchema = TSchema, Res extends TSchema = TSchema> {
  readonly name: string;
  readonly request: Req;
  readonly response: Res;
  /** The reply envelope: {ok:true,data} or {ok:false,error}. */
  readonly reply: TSchema;
}

/** A one-way message (heartbeat, room event, speaker change). */
export interface EventDef<S extends TSchema = TSchema> {
  readonly name: string;
  readonly schema: S;
}

export type RequestOf<D> = D extends RpcDef<infer Req, TSchema> ? Static<Req> : never;
export type ResponseOf<D> = D extends RpcDef<TSchema, infer Res> ? Static<Res> : never;
export type EventOf<D> = D extends EventDef<infer S> ? Static<S> : never;

export function defineRpc<Req extends TSchema, Res extends TSchema>(name: string, request: Req, response: Res): RpcDef<Req, Res> {
  const reply = Type.Union([Type.Object({ ok: Type.Literal(true), data: response }), Type.Object({ ok: Type.Literal(false), error: ErrorBody })]);
  return { name, request, response, reply };
}

export function defineEvent<S extends TSchema>(name: string, schema: S): EventDef<S> {
  return { name, schema };
}

export type Reply<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };
