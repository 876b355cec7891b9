import { context, propagation, type Context } from '@opentelemetry/api';
import { headers as natsHeaders, type MsgHdrs } from 'nats';

/** Writes the active trace context (W3C traceparent/tracestate) into NATS headers. */
export function injectTrace(ctx: Context = context.active(), hdrs: MsgHdrs = natsHeaders()): MsgHdrs {
  propagation.inject(ctx, hdrs, {
    set(carrier, key, value) {
      carrier.set(key, value);
    },
  });
  return hdrs;
}

/** Reads the trace context a publisher put in NATS headers; the active context when there is none. */
export function extractTrace(hdrs: MsgHdrs | undefined): Context {
  if (!hdrs) return context.active();
  return propagation.extract(context.active(), hdrs, {
    get(carrier, key) {
      const v = carrier.get(key);
      return v === '' ? undefined : v;
    },
    keys(carrier) {
      return carrier.keys();
    },
  });
}
