import type { MediaEvent } from '@strata/protocol';
import type { types } from 'mediasoup';

/** Where a consumer's events go: the room's identity and the peer that owns it. */
export interface ConsumerOwner {
  roomId: string;
  nodeId: string;
  peerId: string;
}

/**
 * Turns what happens to a consumer on its own (its producer closed, paused or resumed, its
 * layers changed) into the events its owner's gateway forwards to the client. A producer
 * forwarded from another leg is an ordinary producer here, so its consumers tell the same.
 */
export function reportConsumerEvents(consumer: types.Consumer, owner: ConsumerOwner, emit: (e: MediaEvent) => void): void {
  const base = { ...owner, consumerId: consumer.id, producerId: consumer.producerId };
  consumer.on('producerclose', () => emit({ type: 'consumerClosed', ...base }));
  consumer.on('producerpause', () => emit({ type: 'consumerPaused', ...base }));
  consumer.on('producerresume', () => emit({ type: 'consumerResumed', ...base }));
  consumer.on('layerschange', (layers) =>
    emit({
      type: 'consumerLayersChanged',
      ...owner,
      consumerId: consumer.id,
      spatialLayer: layers?.spatialLayer ?? null,
      temporalLayer: layers?.temporalLayer ?? null,
    }),
  );
}
