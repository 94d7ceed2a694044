// Standalone mode's watched endpoint source: `--endpoints-file endpoints.yaml` lists the pool with
// labels (llm-d's `llm-d.ai/role` for P/D), engine and name, without Kubernetes. The file is
// watched (its directory, so editors' rename-on-save and Kubernetes ConfigMap symlink swaps are
// seen, plus a slow poll as a safety net) and each valid version replaces the pool; an invalid
// one is refused with the field named, and the previous pool is kept. Shape:
//   endpoints:
//     - {address: 10.0.0.5, port: 8000, labels: {llm-d.ai/role: prefill}}
//     - {address: 10.0.0.6, port: 8000, labels: {llm-d.ai/role: decode}, engine: vllm, name: decode-0}
// An empty list is a valid pool with no endpoints (requests get 503 until it fills).
import { watch, type FSWatcher } from 'node:fs';
import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { Endpoint } from '../framework/endpoint.js';
import { TokenrouteError } from '../framework/error-catalogue.js';
import { staticEndpoints } from './static-endpoints.js';

const label = z.string().max(63 * 5, { error: 'too long' });
const endpointSchema = z.strictObject({
  address: z.string({ error: 'required: an IPv4 or IPv6 address' }).refine((a) => isIP(a) !== 0, { error: 'expected an IPv4 or IPv6 address' }),
  port: z.number({ error: 'required: a port' }).int().min(1).max(65535, { error: 'expected a port (1–65535)' }),
  labels: z.record(label, label).default({}),
  engine: z.string().optional(),
  name: z.string().min(1).optional(),
});
const fileSchema = z.strictObject({ endpoints: z.array(endpointSchema, { error: 'expected a list of endpoints' }).max(65_535) });

export type EndpointsFileResult = { readonly ok: true; readonly endpoints: Endpoint[] } | { readonly ok: false; readonly errors: readonly string[] };

/** Parses the file's text into endpoints, or every problem with its field path. */
export function parseEndpointsFile(text: string, defaults: { engine?: string; namespace?: string } = {}): EndpointsFileResult {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, errors: doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`) };
  const r = fileSchema.safeParse(doc.toJS({ maxAliasCount: 100 }) ?? {});
  if (!r.success) return { ok: false, errors: r.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`) };
  try {
    return { ok: true, endpoints: staticEndpoints(r.data.endpoints, defaults.engine ?? '', defaults.namespace ?? 'default') };
  } catch (err) {
    // Reported under the file's own code (TR_ERR_STARTUP_ENDPOINTS_FILE), not the flag's.
    return { ok: false, errors: [`endpoints: ${err instanceof TokenrouteError ? err.detail : err instanceof Error ? err.message : String(err)}`] };
  }
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(file)';
}

export interface EndpointsFileWatcher {
  close(): void;
}

export interface WatchOptions {
  readonly engine?: string;
  readonly namespace?: string;
  /** Called with each valid version that differs from the last. */
  onEndpoints(endpoints: Endpoint[]): void;
  /** Called when a version is refused (the previous pool stays). */
  onInvalid(errors: readonly string[]): void;
  /** Safety-net poll interval (ms). */
  readonly pollMs?: number;
  /** Coalesces the bursts of events one save produces (ms). */
  readonly debounceMs?: number;
}

/** Reads the file once (the caller awaits the first result) and then follows its changes. */
export async function watchEndpointsFile(path: string, opts: WatchOptions): Promise<{ first: EndpointsFileResult; watcher: EndpointsFileWatcher }> {
  const file = resolve(path);
  let lastText: string | undefined;
  let closed = false;
  const load = async (): Promise<EndpointsFileResult | undefined> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      return { ok: false, errors: [`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`] };
    }
    if (text === lastText) return undefined;
    const r = parseEndpointsFile(text, opts);
    if (r.ok) lastText = text;
    return r;
  };
  const first = (await load()) ?? { ok: false, errors: ['unreadable'] };
  let timer: NodeJS.Timeout | undefined;
  let reported = '';
  const reload = () => {
    if (closed) return;
    void load().then((r) => {
      if (closed || !r) return;
      if (r.ok) {
        reported = '';
        opts.onEndpoints(r.endpoints);
      } else {
        const key = r.errors.join('\n');
        if (key !== reported) opts.onInvalid(r.errors); // once per distinct problem, not per poll
        reported = key;
      }
    });
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, opts.debounceMs ?? 50);
  };
  let fsWatcher: FSWatcher | undefined;
  try {
    fsWatcher = watch(dirname(file), (_event, name) => {
      if (name === null || name === basename(file) || name.startsWith('..')) schedule();
    });
    fsWatcher.on('error', () => undefined);
  } catch {
    fsWatcher = undefined; // the poll still follows the file
  }
  const poll = setInterval(reload, opts.pollMs ?? 2000);
  poll.unref();
  return {
    first,
    watcher: {
      close() {
        closed = true;
        if (timer) clearTimeout(timer);
        clearInterval(poll);
        fsWatcher?.close();
      },
    },
  };
}
