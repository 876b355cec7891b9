/**
 * The part of a WebSocket the signaling client uses. Both the browser's `WebSocket` and npm
 * `ws` satisfy it, so the caller injects whichever its platform has.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** npm `ws` only: drop the TCP connection without a closing handshake. */
  terminate?(): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** WebSocket.OPEN: the same in browsers and `ws`; not read from the class so tests may fake it. */
export const WS_OPEN = 1;
