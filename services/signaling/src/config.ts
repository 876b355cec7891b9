import { str } from '@strata/config';

export const signalingConfig = {
  SIGNALING_PUBLIC_URL: str({ description: 'base URL printed for people and handed to clients; empty: http://<HTTP_HOST>:<port>', default: '' }),
};
