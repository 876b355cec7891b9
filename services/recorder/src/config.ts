import { str } from '@strata/config';

export const recorderConfig = {
  RECORDER_DIR: str({ description: 'where recordings are written (created if missing)', default: './recordings' }),
  FFMPEG_BIN: str({ description: 'ffmpeg binary used to write and check recordings', default: 'ffmpeg' }),
};
