/**
 * Bounds on the shape of parsed JSON, checked before anything else looks at a message.
 *
 * JSON.parse builds arbitrarily deep values without trouble, but much of what handles them next
 * recurses: JSON.stringify (re-encoding for NATS), structuredClone (mediasoup clones parameters),
 * schema checks and loggers. A value nested a few thousand levels deep in a field no schema
 * looks into overflows the stack there ("Maximum call stack size exceeded"). The walk below is
 * iterative, so it cannot overflow itself, and stops at the first bound it crosses.
 */

/** The deepest a legitimate message nests is about 8 (a codec's parameters in a request frame). */
export const MAX_JSON_DEPTH = 32;
/** Values (objects, arrays and scalars) in one message; a 64 KiB frame of `[]`s holds ~32 000. */
export const MAX_JSON_NODES = 20_000;

export interface JsonBounds {
  maxDepth?: number;
  maxNodes?: number;
}

/** Why `value` is outside the bounds, or undefined when it is within them. */
export function jsonBoundsProblem(value: unknown, bounds: JsonBounds = {}): string | undefined {
  const maxDepth = bounds.maxDepth ?? MAX_JSON_DEPTH;
  const maxNodes = bounds.maxNodes ?? MAX_JSON_NODES;
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 1 }];
  let nodes = 0;
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (++nodes > maxNodes) return `made of more than ${maxNodes} values`;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > maxDepth) return `nested deeper than ${maxDepth} levels`;
    const children = Array.isArray(v) ? (v as unknown[]) : Object.values(v);
    // Every child is counted when it is popped; refusing early keeps the stack itself bounded.
    if (nodes + stack.length + children.length > maxNodes) return `made of more than ${maxNodes} values`;
    for (const c of children) stack.push({ v: c, depth: depth + 1 });
  }
  return undefined;
}
