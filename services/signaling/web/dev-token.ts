/** What GET /dev/token answers (only when the gateway runs with SIGNALING_DEV_TOKENS=true). */
export interface DevToken {
  token: string;
  wsUrl: string;
  identity: string;
}

export async function fetchDevToken(room: string, identity: string, name: string): Promise<DevToken> {
  const q = new URLSearchParams({ room, identity, name });
  const res = await fetch(`/dev/token?${q}`, { cache: 'no-store' });
  const body = (await res.json()) as Partial<DevToken> & { error?: { code: string; message: string } };
  if (!res.ok || !body.token || !body.wsUrl)
    throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `GET /dev/token answered ${res.status}`);
  return { token: body.token, wsUrl: body.wsUrl, identity: body.identity ?? identity };
}
