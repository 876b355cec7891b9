/**
 * The floor of signaling cost: a bare uWebSockets.js server that parses each JSON request and
 * answers `{ id, ok: true, data }` with the request's data, nothing else. CPU per request of
 * this process is the unit the join storm compares our gateway's CPU per request with. Run as
 * its own process; prints `PORT <n>` when listening.
 */
import { loadNativeUws } from '../../../services/signaling/src/uws.js';

const uWS = loadNativeUws();
const decoder = new TextDecoder();
const app = uWS.App().ws('/*', {
  maxPayloadLength: 64 * 1024,
  idleTimeout: 0,
  message: (ws, message) => {
    try {
      const req = JSON.parse(decoder.decode(message)) as { id?: unknown; data?: unknown };
      ws.send(JSON.stringify({ id: req.id ?? null, ok: true, data: req.data ?? {} }));
    } catch {
      ws.send(JSON.stringify({ id: null, ok: false, error: { code: 'INVALID_MESSAGE', message: 'not JSON' } }));
    }
  },
});
app.listen('127.0.0.1', 0, (listenSocket) => {
  if (!listenSocket) {
    process.stderr.write('uws-echo: listen failed\n');
    process.exit(1);
  }
  process.stdout.write(`PORT ${uWS.us_socket_local_port(listenSocket)}\n`);
});
process.on('SIGTERM', () => process.exit(0));
