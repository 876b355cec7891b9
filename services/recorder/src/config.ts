import { duration, str } from '@strata/config';

export const recorderConfig = {
  RECORDER_DIR: str({ description: 'where recordings are written, one folder per recording (created if missing)', default: './recordings' }),
  FFMPEG_BIN: str({ description: 'ffmpeg binary, checked at start and used by the mix post-step', default: 'ffmpeg' }),
  RECORDER_RTP_HOST: str({
    description: 'IP the recorder receives RTP on, one UDP port per track; media nodes send to it, so it must be reachable from them',
    default: '127.0.0.1',
  }),
  RECORDER_LEASE: duration({
    description: 'how long a recording stays held by a recorder that stopped renewing it; past it another recorder of the pool takes it over',
    default: 3000,
    min: 300,
  }),
  RECORDER_ROSTER_POLL: duration({
    description: "how often a recording reads the room's roster again (producers it missed an event of)",
    default: 2000,
    min: 100,
  }),
  RECORDER_EMPTY_ROOM_TIMEOUT: duration({ description: 'a recording of a room with no member for this long stops ("room empty")', default: 10_000 }),
  RECORDER_MEDIA_TIMEOUT: duration({ description: 'how long a request to a media node may take', default: 5000 }),
};
