/**
 * `npm run dev`'s NATS: a real nats-server with JetStream, its data under <repo>/.data/nats.
 * The port is STRATA_DEV_NATS_PORT (default 4222); the services of the dev region find it at
 * their default NATS_URL. Ctrl-C (or SIGTERM from turbo) stops the server with us.
 */
import { startNatsServer } from '@strata/nats-server';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const raw = process.env['STRATA_DEV_NATS_PORT'] ?? '4222';
const port = Number(raw);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`dev-nats: STRATA_DEV_NATS_PORT: "${raw}" is not a port\n`);
  process.exit(78);
}

const server = await startNatsServer({
  port,
  storeDir: `${repo}.data/nats`,
  onLog: (line) => process.stdout.write(`${line}\n`),
  detached: true,
}).catch((err: unknown) => {
  process.stderr.write(`dev-nats: ${err instanceof Error ? err.message : String(err)}\n`);
  process.stderr.write(`dev-nats: is port ${port} taken? set STRATA_DEV_NATS_PORT and NATS_URL=nats://127.0.0.1:<port>\n`);
  process.exit(1);
});
process.stdout.write(`dev-nats: nats-server with JetStream at ${server.url}\n`);
// The services get the same Ctrl-C and drain over NATS: give them a moment before it goes.
const DRAIN_GRACE_MS = 2000;
let stopping = false;
const stop = (): void => {
  stopping = true;
  setTimeout(() => void server.stop().then(() => process.exit(0)), DRAIN_GRACE_MS);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
// nats-server exits 1 on the SIGTERM we send it: only an exit we did not ask for is a failure.
void server.process.exited.then(({ code, signal }) => {
  if (stopping || code === 0 || signal === 'SIGTERM') process.exit(0);
  process.stderr.write(`dev-nats: nats-server exited (${code ?? signal})\n`);
  process.exit(1);
});
// However we end, @strata/process kills the server (in its own process group) as we exit.
