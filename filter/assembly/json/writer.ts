// The filter's one JSON writer. Strings are escaped as Python's json.dumps(ensure_ascii=False)
// escapes them (CPython Lib/json/encoder.py, py_encode_basestring): the chat templates' `tojson`
// renders with it (transformers src/transformers/utils/chat_template_utils.py, tojson filter), so
// the templates' output matches byte for byte; every other JSON the filter writes (local-reply
// bodies, the core's results) uses the same escaper.
import { JsonDoc, JsonKind } from './reader';

/**
 * `s` as a JSON string literal: `"` and `\` escaped, \n \r \t \b \f in their short forms, other
 * C0 controls as \u00XX; everything else — non-ASCII included — as is.
 */
export function jsonString(s: string): string {
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(run, i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += '\\\\';
    else if (c == 0x0a) out += '\\n';
    else if (c == 0x0d) out += '\\r';
    else if (c == 0x09) out += '\\t';
    else if (c == 0x08) out += '\\b';
    else if (c == 0x0c) out += '\\f';
    else {
      let h = c.toString(16);
      while (h.length < 4) h = '0' + h;
      out += '\\u' + h;
    }
    run = i + 1;
  }
  out += s.substring(run);
  return out + '"';
}

/**
 * A parsed value re-serialised the way Python's json.dumps does with its default separators
 * (", " and ": "; strings through jsonString; integral numbers below 1e15 without a fraction).
 */
export function dumpValue(doc: JsonDoc, v: i32): string {
  const kind = doc.kind(v);
  if (kind == JsonKind.String) return jsonString(doc.str(v));
  if (kind == JsonKind.True) return 'true';
  if (kind == JsonKind.False) return 'false';
  if (kind == JsonKind.Null) return 'null';
  if (kind == JsonKind.Array) {
    let s = '[';
    let item = doc.first(v);
    for (let i = 0; i < doc.length(v); i++, item = doc.next(item)) s += (i ? ', ' : '') + dumpValue(doc, item);
    return s + ']';
  }
  if (kind == JsonKind.Object) {
    let s = '{';
    let key = doc.first(v);
    for (let i = 0; i < doc.length(v); i++) {
      const value = doc.next(key);
      s += (i ? ', ' : '') + jsonString(doc.str(key)) + ': ' + dumpValue(doc, value);
      key = doc.next(value);
    }
    return s + '}';
  }
  const n = parseFloat(doc.raw(v));
  if (n == Math.floor(n) && Math.abs(n) < 1e15) return (<i64>n).toString();
  return n.toString();
}
