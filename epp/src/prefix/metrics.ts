// Prefix-index size, memory and KV-event counts on /metrics, read at scrape time from every plugin
// that implements the PrefixIndexPlugin contract (framework/plugins.ts); nothing is recorded on
// the request path and no plugin is looked into. GIE's inference_extension_prefix_indexer_size is
// kept for dashboards written for the Go EPP; the tokenroute_* series break it down per plugin.
import { Counter, Gauge } from 'prom-client';
import { isPrefixIndexPlugin, type Plugin, type PrefixIndexPlugin } from '../framework/plugins.js';
import type { EppMetrics } from '../observability/metrics.js';

export function registerPrefixIndexMetrics(metrics: EppMetrics, plugins: Iterable<Plugin>): void {
  const indexed: PrefixIndexPlugin[] = [...plugins].filter(isPrefixIndexPlugin);
  if (indexed.length === 0) return;
  const registers = [metrics.registry];
  new Gauge({
    name: 'inference_extension_prefix_indexer_size',
    help: 'Size of the prefix indexer (block-endpoint pairs, all prefix plugins).',
    registers,
    collect() {
      this.set(indexed.reduce((sum, p) => sum + p.prefixIndexStats().pairs, 0));
    },
  });
  const perPlugin = (name: string, help: string, read: (p: PrefixIndexPlugin) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['plugin'],
      registers,
      collect() {
        for (const p of indexed) this.set({ plugin: p.name }, read(p));
      },
    });
  perPlugin('tokenroute_prefix_index_pairs', 'Block-endpoint pairs in the prefix index.', (p) => p.prefixIndexStats().pairs);
  perPlugin('tokenroute_prefix_index_bytes', 'Memory held by the prefix index, in bytes.', (p) => p.prefixIndexStats().bytes);
  perPlugin('tokenroute_prefix_index_evictions', 'Entries evicted from the prefix index since start (LRU bound).', (p) => p.prefixIndexStats().evictions);
  perPlugin('tokenroute_kv_events_engine_map_bytes', 'Memory of the engine-key → block-key map of the KV-event worker.', (p) => p.kvEventStats()?.engineMapBytes ?? 0);
  const seen = new Map<string, number>();
  new Counter({
    name: 'tokenroute_kv_events_total',
    help: 'KV-event messages and blocks by outcome (received, applied, malformed, gaps, ...).',
    labelNames: ['plugin', 'outcome'],
    registers,
    collect() {
      for (const p of indexed) {
        for (const [outcome, value] of Object.entries(p.kvEventStats()?.counters ?? {})) {
          const key = `${p.name}\u0000${outcome}`;
          const delta = value - (seen.get(key) ?? 0);
          if (delta > 0) this.inc({ plugin: p.name, outcome }, delta);
          seen.set(key, value);
        }
      }
    },
  });
}
