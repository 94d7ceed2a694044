// Parsed samples + an engine mapping → the scheduler's signals. Pure and synchronous, called in
// the scrape workers. Semantics follow GIE's core-metrics-extractor: when several series match a
// spec the one with the newest exposition timestamp wins (the first on ties, i.e. always the
// first for model servers, which send no timestamps); for LoRA info the series with the largest
// value wins, because that value is the time the adapter set was last updated.
import type { EngineMapping } from './engines.js';
import type { Sample, SampleMap } from './exposition.js';
import { matchesLabels, type Selector } from './selector.js';

/** Bits of `Extraction.mask`: which fields this scrape produced (the rest keep their last value). */
export const FIELD = Object.freeze({
  waiting: 1,
  running: 2,
  kvUsage: 4,
  loraAdapters: 8,
  maxLoras: 16,
  cacheBlockSize: 32,
  cacheNumBlocks: 64,
});

export interface Extraction {
  mask: number;
  waiting: number;
  running: number;
  kvUsage: number;
  activeLoras: string[];
  waitingLoras: string[];
  maxLoras: number;
  cacheBlockSize: number;
  cacheNumBlocks: number;
  /** Enabled queue/running/KV specs with no matching series: a scrape error. */
  missing: string[];
  /** Specs whose series exist but hold unusable values (NaN, a non-integer max_lora, ...): a scrape error. */
  invalid: string[];
  /**
   * Enabled LoRA/cache specs with no matching series. Not an error: vLLM exports LoRA info only
   * with LoRA enabled, and servers publish cache info once the engine is up.
   */
  absentOptional: string[];
}

const LORA_RUNNING = 'running_lora_adapters';
const LORA_WAITING = 'waiting_lora_adapters';
const LORA_MAX = 'max_lora';

export function extractMetrics(samples: SampleMap, m: EngineMapping): Extraction {
  const out: Extraction = {
    mask: 0,
    waiting: 0,
    running: 0,
    kvUsage: 0,
    activeLoras: [],
    waitingLoras: [],
    maxLoras: 0,
    cacheBlockSize: 0,
    cacheNumBlocks: 0,
    missing: [],
    invalid: [],
    absentOptional: [],
  };

  const count = (sel: Selector | undefined, field: string, bit: number, set: (v: number) => void): void => {
    if (!sel) return;
    const s = newestByTimestamp(samples, sel);
    if (!s) out.missing.push(field);
    else if (!Number.isFinite(s.value)) out.invalid.push(field);
    else {
      set(s.value);
      out.mask |= bit;
    }
  };
  count(m.queued, 'queuedRequestsSpec', FIELD.waiting, (v) => (out.waiting = Math.max(0, Math.trunc(v))));
  count(m.running, 'runningRequestsSpec', FIELD.running, (v) => (out.running = Math.max(0, Math.trunc(v))));
  // Scorers compute 1 − usage; a value outside [0, 1] would only distort them.
  count(m.kvUsage, 'kvUsageSpec', FIELD.kvUsage, (v) => (out.kvUsage = Math.min(1, Math.max(0, v))));

  if (m.lora) {
    const s = largestValue(samples, m.lora);
    if (!s) out.absentOptional.push('loraSpec');
    else {
      out.activeLoras = splitAdapters(s.labels[LORA_RUNNING]);
      out.waitingLoras = splitAdapters(s.labels[LORA_WAITING]);
      out.mask |= FIELD.loraAdapters;
      const max = s.labels[LORA_MAX];
      if (max !== undefined && max !== '') {
        const n = parseCount(max);
        if (n === undefined) out.invalid.push('loraSpec');
        else {
          out.maxLoras = n;
          out.mask |= FIELD.maxLoras;
        }
      }
    }
  }

  if (m.cacheInfo) {
    const s = newestByTimestamp(samples, m.cacheInfo);
    if (!s) out.absentOptional.push('cacheInfoSpec');
    else {
      // Python servers write "None" for a value not known yet: absent, not malformed.
      const size = cacheLabel(s.labels[m.cacheBlockSizeLabel]);
      const blocks = cacheLabel(s.labels[m.cacheNumBlocksLabel]);
      if (size === null || blocks === null) out.invalid.push('cacheInfoSpec');
      if (typeof size === 'number') {
        out.cacheBlockSize = size;
        out.mask |= FIELD.cacheBlockSize;
      }
      if (typeof blocks === 'number') {
        out.cacheNumBlocks = blocks;
        out.mask |= FIELD.cacheNumBlocks;
      }
    }
  }

  const gaugeCount = (sel: Selector | undefined, field: string, bit: number, set: (v: number) => void): void => {
    if (!sel) return;
    const s = newestByTimestamp(samples, sel);
    if (!s) out.absentOptional.push(field);
    else if (!Number.isFinite(s.value) || s.value < 0) out.invalid.push(field);
    else {
      set(Math.trunc(s.value));
      out.mask |= bit;
    }
  };
  gaugeCount(m.cacheBlockSize, 'cacheBlockSizeSpec', FIELD.cacheBlockSize, (v) => (out.cacheBlockSize = v));
  gaugeCount(m.cacheNumBlocks, 'cacheNumBlocksSpec', FIELD.cacheNumBlocks, (v) => (out.cacheNumBlocks = v));
  return out;
}

function newestByTimestamp(samples: SampleMap, sel: Selector): Sample | undefined {
  const list = samples.get(sel.metric);
  if (!list) return undefined;
  let best: Sample | undefined;
  for (const s of list) {
    if (matchesLabels(sel, s.labels) && (best === undefined || s.timestampMs > best.timestampMs)) best = s;
  }
  return best;
}

function largestValue(samples: SampleMap, sel: Selector): Sample | undefined {
  const list = samples.get(sel.metric);
  if (!list) return undefined;
  let best: Sample | undefined;
  for (const s of list) {
    if (!matchesLabels(sel, s.labels)) continue;
    // NaN compares false both ways; any number beats it.
    if (best === undefined || s.value > best.value || (Number.isNaN(best.value) && !Number.isNaN(s.value))) best = s;
  }
  return best;
}

function splitAdapters(csv: string | undefined): string[] {
  if (!csv) return [];
  const out: string[] = [];
  for (const part of csv.split(',')) {
    const name = part.trim();
    if (name !== '' && !out.includes(name)) out.push(name);
  }
  return out;
}

function parseCount(text: string): number | undefined {
  const t = text.trim();
  return /^\+?\d+$/.test(t) ? Number(t) : undefined;
}

/** number = value; undefined = not reported (label absent, "", "None"); null = malformed. */
function cacheLabel(text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '' || t === 'None') return undefined;
  return parseCount(t) ?? null;
}
