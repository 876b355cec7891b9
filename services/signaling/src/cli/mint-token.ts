/**
 * Mints a join token for development and scripts:
 *   npm run token -- --room demo --identity alice [--name Alice] [--ttl 3600] [--no-publish] [--no-subscribe] [--record] [--admin]
 * Signs with SIGNALING_JWT_SECRET (the development default when unset), like the gateway verifies.
 */
import { mintJoinToken } from '@strata/auth';
import { isValidId } from '@strata/protocol';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    room: { type: 'string' },
    identity: { type: 'string' },
    name: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    'no-publish': { type: 'boolean', default: false },
    'no-subscribe': { type: 'boolean', default: false },
    record: { type: 'boolean', default: false },
    admin: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(
    `mint-token: ${message}\nusage: npm run token -- --room <room> --identity <id> [--name <name>] [--ttl <seconds>] [--no-publish] [--no-subscribe] [--record] [--admin]\n`,
  );
  process.exit(2);
}

if (!values.room || !isValidId(values.room)) fail('--room is required: 1-64 characters of A-Z a-z 0-9 _ -');
if (!values.identity) fail('--identity is required');
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl < 1) fail('--ttl must be a positive number of seconds');
const secret = process.env['SIGNALING_JWT_SECRET'] || 'strata-dev-secret-change-me';
const token = await mintJoinToken(secret, {
  room: values.room,
  identity: values.identity,
  ...(values.name ? { name: values.name } : {}),
  ttlSeconds: ttl,
  grants: { publish: !values['no-publish'], subscribe: !values['no-subscribe'], record: values.record, admin: values.admin },
});
process.stdout.write(`${token}\n`);
