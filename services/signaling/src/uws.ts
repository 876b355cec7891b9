import { createRequire } from 'node:module';

export type Uws = typeof import('@trufflesuite/uws-js-unofficial');

/**
 * uWebSockets.js from npm (the official build is GitHub-only). When its native binary does not
 * load, the package silently swaps in a slow pure-JS shim; a gateway on that shim would pass
 * tests and fall over under load, so we refuse to start instead.
 */
export function loadNativeUws(): Uws {
  if (process.env['UWS_USE_FALLBACK']) throw new Error('UWS_USE_FALLBACK is set: the signaling gateway needs the native uWebSockets.js');
  const uws = createRequire(import.meta.url)('@trufflesuite/uws-js-unofficial') as Uws;
  if (typeof uws.SSLApp !== 'function' || typeof uws.us_listen_socket_close !== 'function') {
    throw new Error(`uWebSockets.js native binary did not load for ${process.platform}-${process.arch} ABI ${process.versions.modules}`);
  }
  return uws;
}
