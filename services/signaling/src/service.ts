import { Heartbeat, subjects } from '@strata/protocol';
import type { ServiceDefinition } from '@strata/service';
import { fileURLToPath } from 'node:url';
import { signalingConfig } from './config.js';
import { RegionStatus } from './region-status.js';
import { loadStaticFiles } from './static-files.js';
import { loadNativeUws } from './uws.js';

const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

export const signalingService: ServiceDefinition<typeof signalingConfig> = {
  kind: 'signaling',
  version: '0.1.0',
  config: signalingConfig,
  ownsHttp: true,
  async start({ config, log, bus, region, report }) {
    const uws = loadNativeUws();
    const status = new RegionStatus();
    const files = loadStaticFiles(PUBLIC_DIR, ['index.html']);

    const app = uws.App();
    // Handlers
    app.get('/healthz', (res) => {
      let aborted = false;
      res.onAborted(() => (aborted = true));
      void report().then((r) => {
        if (aborted) return;
        res.cork(() => {
          res.writeStatus(r.status === 'ok' ? '200 OK' : '503 Service Unavailable').writeHeader('content-type', 'application/json').end(JSON.stringify(r));
        });
      });
    });
    app.get('/api/region', (res) => {
      res.writeHeader('content-type', 'application/json').end(JSON.stringify({ region, services: status.live() }));
    });
    app.get('/*', (res, req) => {
      const path = req.getUrl() === '/' ? '/index.html' : req.getUrl();
      const file = files.get(path);
      if (!file) {
        res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json').end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no ${path} here` } }));
        return;
      }
      res.writeHeader('content-type', file.type).end(file.body);
    });
    app.any('/*', (res) => {
      res.writeStatus('405 Method Not Allowed').end();
    });

    const listenSocket = await new Promise<unknown>((resolve, reject) => {
      app.listen(config.HTTP_HOST, config.HTTP_PORT, (socket) => (socket ? resolve(socket) : reject(new Error(`cannot listen on ${config.HTTP_HOST}:${config.HTTP_PORT}`))));
    });
    const port = uws.us_socket_local_port(listenSocket as Parameters<typeof uws.us_socket_local_port>[0]);
    const publicUrl = config.SIGNALING_PUBLIC_URL || `http://${config.HTTP_HOST === '0.0.0.0' ? '127.0.0.1' : config.HTTP_HOST}:${port}`;
    const subs = [bus.subscribe(Heartbeat, subjects.heartbeats(region), (beat) => status.observe(beat))];
    log.info({ url: publicUrl }, `Strata ${region}: open ${publicUrl}/`);

    return {
      endpoints: () => ({ http: publicUrl, ws: `${publicUrl.replace(/^http/, 'ws')}/rtc` }),
      load: () => ({ score: 0, details: {} }),
      async close() {
        for (const s of subs) s.unsubscribe();
        uws.us_listen_socket_close(listenSocket as Parameters<typeof uws.us_listen_socket_close>[0]);
      },
    };
  },
};
