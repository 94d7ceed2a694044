// The order PrepareData plugins run in: every producer of a state entry before every consumer of
// it (Kahn's topological sort, ties kept in configuration order), as GIE sorts its prepare-data
// plugins into a DAG (gateway-api-inference-extension `pkg/epp/requestcontrol/
// request_control_config.go` PrepareDataPluginGraph). A cycle, or a consumer whose entry no
// plugin produces, is a configuration error: at run time it would silently read nothing.
import type { PrepareDataPlugin } from '../framework/plugins.js';

export type PrepareDataOrder =
  | { readonly ok: true; readonly order: readonly PrepareDataPlugin[] }
  | { readonly ok: false; readonly message: string };

export function orderPrepareData(plugins: readonly PrepareDataPlugin[]): PrepareDataOrder {
  const producers = new Map<string, PrepareDataPlugin[]>();
  for (const p of plugins) for (const k of p.produces ?? []) producers.set(k.name, [...(producers.get(k.name) ?? []), p]);
  const after = new Map<PrepareDataPlugin, Set<PrepareDataPlugin>>(plugins.map((p) => [p, new Set()]));
  const waitingOn = new Map<PrepareDataPlugin, number>(plugins.map((p) => [p, 0]));
  for (const consumer of plugins) {
    for (const k of consumer.consumes ?? []) {
      const from = producers.get(k.name);
      if (!from) return { ok: false, message: `plugin ${JSON.stringify(consumer.name)} (type ${consumer.type}) consumes ${JSON.stringify(k.name)}, which no plugin produces` };
      for (const producer of from) {
        if (producer === consumer || after.get(producer)!.has(consumer)) continue;
        after.get(producer)!.add(consumer);
        waitingOn.set(consumer, waitingOn.get(consumer)! + 1);
      }
    }
  }
  const order: PrepareDataPlugin[] = [];
  const ready = plugins.filter((p) => waitingOn.get(p) === 0);
  while (ready.length > 0) {
    const next = ready.shift()!;
    order.push(next);
    for (const c of after.get(next)!) {
      const left = waitingOn.get(c)! - 1;
      waitingOn.set(c, left);
      if (left === 0) ready.push(c);
    }
    // Keep configuration order among the plugins that became ready.
    ready.sort((a, b) => plugins.indexOf(a) - plugins.indexOf(b));
  }
  if (order.length < plugins.length) {
    const stuck = plugins.filter((p) => !order.includes(p)).map((p) => JSON.stringify(p.name));
    return { ok: false, message: `the prepare-data plugins ${stuck.join(', ')} depend on each other in a cycle` };
  }
  return { ok: true, order };
}
