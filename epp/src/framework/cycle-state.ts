// Typed per-request scratch space. A plugin declares a key once, `const MATCH = stateKey<Match>('prefix.match')`,
// and reads and writes through it, so what one extension point stores and another reads
// agree on the type without casts. GIE's counterpart is `plugin.StateData` in CycleState
// (gateway-api-inference-extension `pkg/epp/framework/interface/plugin/cycle_state.go`, v1.5.0),
// which needs a type assertion on every read; here the key carries the type.

declare const VALUE: unique symbol;

/** A key for values of type T. Two keys with the same name are the same entry. */
export interface StateKey<T> {
  readonly name: string;
  readonly [VALUE]?: T;
}

export function stateKey<T>(name: string): StateKey<T> {
  return { name };
}

/** Entries whose key name starts with this are copied into the decision trace. */
export const TRACE_STATE_PREFIX = 'trace.';

/** One request's entries: written by one extension point, read by later ones. */
export class RequestState {
  private readonly entries = new Map<string, unknown>();

  read<T>(key: StateKey<T>): T | undefined {
    return this.entries.get(key.name) as T | undefined;
  }

  write<T>(key: StateKey<T>, value: T): void {
    this.entries.set(key.name, value);
  }

  /** A note for the decision trace (`trace.<name>`), e.g. which source gave the prefix keys. */
  note(name: string, value: unknown): void {
    this.entries.set(TRACE_STATE_PREFIX + name, value);
  }

  /** The trace notes, names without the prefix. */
  notes(): Record<string, unknown> | undefined {
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of this.entries) if (k.startsWith(TRACE_STATE_PREFIX)) (out ??= {})[k.slice(TRACE_STATE_PREFIX.length)] = v;
    return out;
  }
}
