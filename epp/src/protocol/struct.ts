// google.protobuf.Struct ⇄ plain JSON. Envoy carries filter metadata, attributes and our dynamic
// metadata as Structs; the rest of the EPP wants ordinary objects. Written by hand because
// proto-loader represents Struct/Value with protobufjs' camelCase field names even under keepCase,
// so a generic snake_case mapper would silently drop every value (see types.ts).
import type { ProtoStruct, ProtoValue } from './types.js';

// Deep enough for any metadata a proxy sends; stops runaway recursion on cyclic input.
const MAX_DEPTH = 64;

/** Decodes a Struct into a plain object. Missing or empty input gives `{}`. */
export function structToJson(struct: ProtoStruct | null | undefined): Record<string, unknown> {
  return decodeStruct(struct, 0);
}

/** Decodes one google.protobuf.Value. An unset Value (no kind) decodes to `null`, as protobuf JSON does. */
export function valueToJson(value: ProtoValue | null | undefined): unknown {
  return decodeValue(value, 0);
}

/**
 * Encodes a plain object as a Struct. `undefined` members are skipped (like JSON.stringify);
 * non-finite numbers and other non-JSON values throw, because the proxy could not represent them.
 */
export function jsonToStruct(obj: Readonly<Record<string, unknown>>): ProtoStruct {
  return encodeStruct(obj, 0);
}

/** Encodes one JSON value as a google.protobuf.Value. */
export function jsonToValue(value: unknown): ProtoValue {
  return encodeValue(value, 0);
}

function decodeStruct(struct: ProtoStruct | null | undefined, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = struct?.fields;
  if (!fields) return out;
  for (const key of Object.keys(fields)) out[key] = decodeValue(fields[key], depth + 1);
  return out;
}

function decodeValue(v: ProtoValue | null | undefined, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new RangeError('google.protobuf.Struct nested too deeply');
  if (v === null || v === undefined) return null;
  // Accept snake_case too: a message built by hand (or by another loader) must decode the same.
  const loose = v as ProtoValue & Record<string, unknown>;
  switch (v.kind ?? kindOf(loose)) {
    case 'stringValue':
    case 'string_value':
      return loose.stringValue ?? loose.string_value;
    case 'numberValue':
    case 'number_value':
      return loose.numberValue ?? loose.number_value;
    case 'boolValue':
    case 'bool_value':
      return loose.boolValue ?? loose.bool_value;
    case 'structValue':
    case 'struct_value':
      return decodeStruct((loose.structValue ?? loose.struct_value) as ProtoStruct, depth);
    case 'listValue':
    case 'list_value': {
      const list = (loose.listValue ?? loose.list_value) as { values?: ProtoValue[] } | undefined;
      const values = list?.values ?? [];
      const arr = new Array<unknown>(values.length);
      for (let i = 0; i < values.length; i++) arr[i] = decodeValue(values[i], depth + 1);
      return arr;
    }
    default:
      return null;
  }
}

const KINDS = [
  'stringValue', 'numberValue', 'boolValue', 'structValue', 'listValue', 'nullValue',
  'string_value', 'number_value', 'bool_value', 'struct_value', 'list_value', 'null_value',
] as const;

function kindOf(v: Record<string, unknown>): string | undefined {
  for (const k of KINDS) if (v[k] !== undefined) return k;
  return undefined;
}

function encodeStruct(obj: Readonly<Record<string, unknown>>, depth: number): ProtoStruct {
  const fields: Record<string, ProtoValue> = {};
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v === undefined) continue;
    fields[key] = encodeValue(v, depth + 1);
  }
  return { fields };
}

function encodeValue(v: unknown, depth: number): ProtoValue {
  if (depth > MAX_DEPTH) throw new RangeError('value nested too deeply for google.protobuf.Struct');
  if (v === null) return { nullValue: 'NULL_VALUE' };
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`cannot encode ${v} in google.protobuf.Value`);
      return { numberValue: v };
    case 'object': {
      if (Array.isArray(v)) {
        // JSON.stringify turns undefined array members into null; do the same.
        const values = v.map((item) => (item === undefined ? { nullValue: 'NULL_VALUE' as const } : encodeValue(item, depth + 1)));
        return { listValue: { values } };
      }
      if (v instanceof Map) {
        const obj: Record<string, unknown> = {};
        for (const [k, item] of v) obj[String(k)] = item;
        return { structValue: encodeStruct(obj, depth) };
      }
      return { structValue: encodeStruct(v as Record<string, unknown>, depth) };
    }
    default:
      throw new TypeError(`cannot encode a ${typeof v} in google.protobuf.Value`);
  }
}
