/**
 * The floor of a gateway that answers over NATS: the bare uWS JSON echo (uws-echo.ts) with one
 * NATS request/reply per signaling request in between, and nothing else. Each frame is parsed,
 * its data sent with plain nats.js `request()` to a responder in another process, which sends
 * it back, and the answer goes to the socket. With `RELAY_KV=1` each request also writes one
 * JetStream KV key (a create, as a join writes its peer record) before answering.
 *
 * Its CPU per request says what one round trip to another process costs a Node gateway, apart
 * from anything Strata does: a request that goes to a media node, or writes state any gateway
 * can read, pays at least this. Run as its own process, with its own nats-server and responder
 * as child processes (not counted in its CPU); prints `PORT <n>` when listening.
 */
import { startNatsServer } from '@strata/nats-server';
import { fork } from 'node:child_process';
import { connect, type NatsConnection } from 'nats';
import { fileURLToPath } from 'node:url';
import { loadNativeUws } from '../../../services/signaling/src/uws.js';

const SUBJECT = 'relay.echo';

async function responder(url: string): Promise<void> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  nc.subscribe(SUBJECT, { callback: (_err, msg) => msg.respond(msg.data) });
  await nc.flush();
  // The relay gone (stopped or crashed): nothing left to answer.
  process.once('disconnect', () => process.exit(0));
  process.send?.('ready');
}

async function relay(): Promise<void> {
  const nats = await startNatsServer();
  const child = fork(fileURLToPath(import.meta.url), ['--responder', nats.url], { stdio: 'inherit', execArgv: process.execArgv });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`relay responder exited with ${code}`)));
  });
  const nc: NatsConnection = await connect({ servers: nats.url, noAsyncTraces: true });
  const kv = process.env['RELAY_KV'] === '1' ? await nc.jetstream().views.kv('relay', { history: 1 }) : undefined;
  let key = 0;

  const uWS = loadNativeUws();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const app = uWS.App().ws<{ open: boolean }>('/*', {
    maxPayloadLength: 64 * 1024,
    idleTimeout: 0,
    open: (ws) => void (ws.getUserData().open = true),
    close: (ws) => void (ws.getUserData().open = false),
    message: (ws, message) => {
      let req: { id?: unknown; data?: unknown };
      try {
        req = JSON.parse(decoder.decode(message)) as typeof req;
      } catch {
        ws.send(JSON.stringify({ id: null, ok: false, error: { code: 'INVALID_MESSAGE', message: 'not JSON' } }));
        return;
      }
      const id = req.id ?? null;
      const data = encoder.encode(JSON.stringify(req.data ?? {}));
      void (async () => {
        const answer = JSON.parse(decoder.decode((await nc.request(SUBJECT, data, { timeout: 5000 })).data)) as unknown;
        if (kv) await kv.create(`k${key++}`, data);
        if (ws.getUserData().open) ws.send(JSON.stringify({ id, ok: true, data: answer }));
      })().catch((err: unknown) => {
        if (ws.getUserData().open) ws.send(JSON.stringify({ id, ok: false, error: { code: 'INTERNAL', message: String(err) } }));
      });
    },
  });
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await nc.close();
    await nats.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  app.listen('127.0.0.1', 0, (listenSocket) => {
    if (!listenSocket) {
      process.stderr.write('uws-nats-relay: listen failed\n');
      process.exit(1);
    }
    process.stdout.write(`PORT ${uWS.us_socket_local_port(listenSocket)}\n`);
  });
}

if (process.argv[2] === '--responder') await responder(process.argv[3] as string);
else await relay();
