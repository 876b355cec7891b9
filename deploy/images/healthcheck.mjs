// The images' HEALTHCHECK: GET /healthz on the service's own HTTP endpoint, as its config reads
// HTTP_HOST and HTTP_PORT (a wildcard bind is asked on loopback). Exit 0 when it answers 200
// (healthy), 1 otherwise (503 while degraded or draining, no answer, or no answer within 2 s).
const host = process.env.HTTP_HOST || '127.0.0.1';
const port = process.env.HTTP_PORT;
if (!port) {
  console.error('healthcheck: HTTP_PORT is not set');
  process.exit(1);
}
const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
try {
  const res = await fetch(`http://${target}:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
  process.exit(res.status === 200 ? 0 : 1);
} catch (err) {
  console.error(`healthcheck: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
