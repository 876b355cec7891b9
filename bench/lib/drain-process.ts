/**
 * The drain's process (see drain.ts): binds the UDP sockets it is asked for with the smallest
 * receive buffer, prints their ports, then blocks its event loop for good, so that nothing
 * ever reads them: the kernel queues a few packets per socket and drops the rest, counting
 * each drop in /proc/net/udp. A reader would cost a core at the packet rates of a big room.
 * Started by drain.ts; killed by it (SIGKILL: a blocked loop runs no handler).
 */
import { createSocket } from 'node:dgram';

const count = Number(process.argv[2]);
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write('usage: drain-process.ts <sockets>\n');
  process.exit(2);
}
const ports: number[] = [];
for (let i = 0; i < count; i++) {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 1 });
  ports.push(
    await new Promise<number>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve(socket.address().port));
    }),
  );
}
// Synchronous on a pipe (Linux), so the ports are out before the loop stops.
process.stdout.write(`${JSON.stringify({ ports })}\n`);
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
