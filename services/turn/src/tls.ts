import { ConfigError } from '@strata/config';
import { selfSignedCertificate } from '@strata/node-turn';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsPair {
  cert: string;
  key: string;
  /** made at start: no client that checks certificates will accept it unless told to trust it */
  selfSigned: boolean;
}

/**
 * The certificate and key of the turns: listener: the configured PEM files, checked now so a wrong
 * path or a key that does not match the certificate stops the start (exit 78) rather than every
 * handshake; with neither configured, a self-signed pair naming `hosts`.
 */
export function tlsPair(certFile: string, keyFile: string, hosts: string[]): TlsPair {
  if (!certFile && !keyFile) return { ...selfSignedCertificate(hosts, { commonName: 'strata-turn' }), selfSigned: true };
  if (!certFile || !keyFile)
    throw new ConfigError([`${certFile ? 'TURN_TLS_KEY' : 'TURN_TLS_CERT'}: required when ${certFile ? 'TURN_TLS_CERT' : 'TURN_TLS_KEY'} is set`]);
  const read = (name: string, file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${name}: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`]);
    }
  };
  const pair = { cert: read('TURN_TLS_CERT', certFile), key: read('TURN_TLS_KEY', keyFile), selfSigned: false };
  try {
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (err) {
    throw new ConfigError([`TURN_TLS_CERT, TURN_TLS_KEY: not a usable certificate and key: ${err instanceof Error ? err.message : String(err)}`]);
  }
  return pair;
}
