import { bool, duration, int, str, type VarSpec } from '@strata/config';

/** uWS counts a socket's idle time in whole seconds and accepts 0 (off) or 8–960 s. */
function socketIdleTimeout(): VarSpec<number> {
  const base = duration({
    description: 'a WebSocket that sends nothing and answers no ping for this long is closed (whole seconds, 8s-960s; 0 disables); pings go out automatically',
    default: 60_000,
    max: 960_000,
  });
  return {
    ...base,
    parse(raw) {
      const ms = base.parse(raw);
      if (ms % 1000 !== 0) throw new Error(`${ms} ms is not a whole number of seconds`);
      if (ms !== 0 && ms < 8000) throw new Error(`${ms} ms is below the minimum 8s (0 disables)`);
      return ms;
    },
  };
}

export const signalingConfig = {
  SIGNALING_PUBLIC_URL: str({ description: 'base URL printed for people and handed to clients; empty: http://<HTTP_HOST>:<port>', default: '' }),
  SIGNALING_JWT_SECRET: str({
    description: 'HS256 secret that join tokens are signed with (at least 16 characters)',
    default: 'strata-dev-secret-change-me',
    pattern: /^.{16,}$/,
  }),
  SIGNALING_ADMIN_SECRET: str({
    description: 'bearer secret of the admin HTTP API (/api/rooms/<room>/recordings, /api/recordings...); empty: the admin API is off',
    default: '',
  }),
  SIGNALING_DEV_TOKENS: bool({ description: 'serve GET /dev/token (mints join tokens for anyone: development only)', default: false }),
  SIGNALING_RESUME_GRACE: duration({
    description: 'how long a dropped session can be resumed before the peer is removed',
    default: 30_000,
    min: 1000,
    max: 600_000,
  }),
  SIGNALING_MAX_FRAME_BYTES: int({
    description: 'largest WebSocket frame answered normally; larger ones get TOO_LARGE (past 16 times that, at least 1 MiB, the connection is dropped unread)',
    default: 64 * 1024,
    min: 1024,
    max: 1024 * 1024,
  }),
  SIGNALING_RATE_LIMIT: int({ description: 'requests per second a socket may send on average', default: 50, min: 1 }),
  SIGNALING_RATE_BURST: int({ description: 'requests a socket may send at once above the average', default: 100, min: 1 }),
  SIGNALING_IDLE_TIMEOUT: socketIdleTimeout(),
  SIGNALING_REQUEST_TIMEOUT: duration({ description: 'timeout of requests to media nodes', default: 5000, min: 100 }),
  SIGNALING_SWEEP_INTERVAL: duration({
    description: 'how often the gateway checks whether a gateway went away (then it sweeps for its sessions to expire)',
    default: 5000,
    min: 500,
  }),
  SIGNALING_ROOM_LEG_SIZE: int({
    description:
      "members per leg of a room (one media node's share, like jicofo's max-bridge-participants): past it a new leg opens on the least-loaded other node; 0: no share, a room stays on one node until that node is full",
    default: 0,
    min: 0,
    max: 100_000,
  }),
  SIGNALING_SESSION_CAPACITY: int({
    description:
      'sessions this gateway is sized for: its heartbeat load score is sessions / this, or its event loop utilisation when higher (joins past it are not refused)',
    default: 10_000,
    min: 1,
  }),
  SIGNALING_TURN: bool({ description: 'ask the region TURN service for credentials at join', default: true }),
};
