export { mintJoinToken, verifyJoinToken } from './join-token.js';
export type { JoinGrant, MintOptions, VerifiedJoin } from './join-token.js';
