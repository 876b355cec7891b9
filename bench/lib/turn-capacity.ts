/**
 * Issue 16's capacity question, from a measured CPU cost per relayed packet: how many TURN
 * cores, servers and how much bandwidth do P concurrent participants need when a share of them
 * go through TURN at a given bitrate? Every assumption is an input and is printed with the answer.
 */
export interface CapacityAssumptions {
  participants: number;
  /** Share of participants whose media goes through TURN (0.15). */
  turnShare: number;
  /** Media bitrate of one participant, each way (client → SFU and SFU → client), Mbit/s. */
  mbpsEachWay: number;
  /** Media payload of one packet, bytes (what the bitrate is made of). */
  packetBytes: number;
  /** Bytes each relayed packet adds on the wire: IPv4 + UDP headers (28), plus 4 of ChannelData on the client side. */
  overheadBytes: number;
  /** Cores per server (this machine's size). */
  coresPerServer: number;
  /** Share of a core to plan for, headroom for bursts (0.7). */
  targetUtilisation: number;
}

export const DEFAULT_CAPACITY: CapacityAssumptions = {
  participants: 10_000,
  turnShare: 0.15,
  mbpsEachWay: 1.5,
  packetBytes: 1200,
  // 20 IPv4 + 8 UDP on both sides of the relay, and the client side's 4-byte ChannelData header averaged over the two.
  overheadBytes: 30,
  coresPerServer: 2,
  targetUtilisation: 0.7,
};

export interface Capacity {
  turnParticipants: number;
  /** Relayed packets per second per TURN participant: each packet crosses the server once, in one direction. */
  packetsPerParticipant: number;
  packetsPerSecond: number;
  cores: number;
  /** Servers of `coresPerServer` cores, each core at most at `targetUtilisation`. */
  servers: number;
  /** What the TURN servers receive (client → server and SFU → server), Gbit/s on the wire; they send as much. */
  gbpsIn: number;
  gbpsOut: number;
  /** TURN participants one core carries at `targetUtilisation`. */
  participantsPerCore: number;
}

export function turnCapacity(usPerPacket: number, a: CapacityAssumptions = DEFAULT_CAPACITY): Capacity {
  const turnParticipants = Math.round(a.participants * a.turnShare);
  // Media packets per second one way: bitrate over the packet's payload.
  const perWay = (a.mbpsEachWay * 1e6) / (a.packetBytes * 8);
  const packetsPerParticipant = 2 * perWay;
  const packetsPerSecond = turnParticipants * packetsPerParticipant;
  const cores = (packetsPerSecond * usPerPacket) / 1e6;
  const servers = Math.ceil(cores / (a.coresPerServer * a.targetUtilisation));
  // Every packet comes in once and goes out once: in = out = all relayed packets, with their headers.
  const gbps = (packetsPerSecond * (a.packetBytes + a.overheadBytes) * 8) / 1e9;
  const participantsPerCore = (a.targetUtilisation * 1e6) / usPerPacket / packetsPerParticipant;
  return { turnParticipants, packetsPerParticipant, packetsPerSecond, cores, servers, gbpsIn: gbps, gbpsOut: gbps, participantsPerCore };
}

export function describeAssumptions(a: CapacityAssumptions = DEFAULT_CAPACITY): string {
  return (
    `${a.participants.toLocaleString('en-US')} concurrent participants, ${Math.round(a.turnShare * 100)} % through TURN, ${a.mbpsEachWay} Mbit/s each way ` +
    `(client → SFU and SFU → client, both through the relay) in ${a.packetBytes}-byte packets (+${a.overheadBytes} bytes of headers on the wire), ` +
    `${a.coresPerServer}-core servers with each core planned at ${Math.round(a.targetUtilisation * 100)} %`
  );
}

export function describeCapacity(label: string, usPerPacket: number, a: CapacityAssumptions = DEFAULT_CAPACITY): string {
  const c = turnCapacity(usPerPacket, a);
  return (
    `${label} at ${usPerPacket.toFixed(2)} µs per relayed packet: ${c.turnParticipants.toLocaleString('en-US')} TURN participants × ${c.packetsPerParticipant.toFixed(1)} packets/s = ` +
    `${Math.round(c.packetsPerSecond).toLocaleString('en-US')} relayed packets/s → ${c.cores.toFixed(1)} cores → ${c.servers} servers; ` +
    `${c.gbpsIn.toFixed(2)} Gbit/s in and ${c.gbpsOut.toFixed(2)} Gbit/s out; ${Math.floor(c.participantsPerCore)} TURN participants per core`
  );
}
