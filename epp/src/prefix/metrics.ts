// Prefix-index size, memory and KV-event counts on /metrics, read from the indexes at scrape time
// (nothing is recorded on the request path). GIE's inference_extension_prefix_indexer_size is
// kept for dashboards written for the Go EPP; the tokenroute_* series break it down per plugin.
import { Counter, Gauge } from 'prom-client';
import type { Plugin } from '../framework/plugins.js';
import type { BlockIndex } from './index/block-index.js';
import type { KvEventSubscriber } from './events/subscriber.js';
import type { EppMetrics } from '../observability/metrics.js';

interface IndexedPlugin {
  readonly name: string;
  readonly index: BlockIndex;
  readonly subscriber?: KvEventSubscriber;
}

/** The prefix plugins' indexes: the approximate scorer holds a BlockIndex, the precise one wraps it. */
function indexedPlugins(plugins: Iterable<Plugin>): IndexedPlugin[] {
  const out: IndexedPlugin[] = [];
  for (const p of plugins) {
    const index = (p as { index?: { stats?: unknown; index?: BlockIndex } }).index;
    if (!index) continue;
    if (typeof index.stats === 'function') out.push({ name: p.name, index: index as unknown as BlockIndex });
    else if (index.index) out.push({ name: p.name, index: index.index, get subscriber() { return (p as { subscriber?: KvEventSubscriber }).subscriber; } });
  }
  return out;
}

export function registerPrefixIndexMetrics(metrics: EppMetrics, plugins: Iterable<Plugin>): void {
  const indexed = indexedPlugins(plugins);
  if (indexed.length === 0) return;
  const registers = [metrics.registry];
  new Gauge({
    name: 'inference_extension_prefix_indexer_size',
    help: 'Size of the prefix indexer (block-endpoint pairs, all prefix plugins).',
    registers,
    collect() {
      this.set(indexed.reduce((sum, p) => sum + p.index.stats().pairs, 0));
    },
  });
  const perPlugin = (name: string, help: string, read: (p: IndexedPlugin) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['plugin'],
      registers,
      collect() {
        for (const p of indexed) this.set({ plugin: p.name }, read(p));
      },
    });
  perPlugin('tokenroute_prefix_index_pairs', 'Block-endpoint pairs in the prefix index.', (p) => p.index.stats().pairs);
  perPlugin('tokenroute_prefix_index_bytes', 'Memory held by the prefix index, in bytes.', (p) => p.index.stats().bytes);
  perPlugin('tokenroute_prefix_index_evictions', 'Entries evicted from the prefix index since start (LRU bound).', (p) => p.index.stats().evictions);
  perPlugin('tokenroute_kv_events_engine_map_bytes', 'Memory of the engine-key → block-key map of the KV-event worker.', (p) => p.subscriber?.getStats().engineMapBytes ?? 0);
  const seen = new Map<string, number>();
  new Counter({
    name: 'tokenroute_kv_events_total',
    help: 'KV-event messages and blocks by outcome (received, applied, malformed, gaps, ...).',
    labelNames: ['plugin', 'outcome'],
    registers,
    collect() {
      for (const p of indexed) {
        for (const [outcome, value] of Object.entries(p.subscriber?.getStats().counters ?? {})) {
          const key = `${p.name}\u0000${outcome}`;
          const delta = value - (seen.get(key) ?? 0);
          if (delta > 0) this.inc({ plugin: p.name, outcome }, delta);
          seen.set(key, value);
        }
      }
    },
  });
}
