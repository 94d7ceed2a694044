// fcfs-ordering-policy (GIE/llm-d's default ordering): inside a flow, requests are dispatched in
// the order they arrived. Source: llm-d-router `pkg/epp/framework/plugins/flowcontrol/ordering/
// fcfs`. The arrival sequence breaks ties between requests of the same millisecond.
import { z } from 'zod';
import type { OrderingPolicy, QueuedItem } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';

export const FCFS_ORDERING_TYPE = 'fcfs-ordering-policy';

export function createFcfsOrdering(name: string): OrderingPolicy {
  return { type: FCFS_ORDERING_TYPE, name, less: (a: QueuedItem, b: QueuedItem) => a.seq < b.seq };
}

export const fcfsOrderingPlugin = definePlugin({
  type: FCFS_ORDERING_TYPE,
  parameters: z.strictObject({}),
  create: (name) => createFcfsOrdering(name),
});
