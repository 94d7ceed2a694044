// Where a top-level member's value sits in a JSON object's bytes, found in one linear pass
// without building anything: the model-rewrite path of a large body splices the new `model`
// into the bytes the client sent (a copy) instead of re-serializing tens of megabytes of parsed
// JSON on the event loop. Called only on bodies JSON.parse accepted, so the scanner trusts the
// syntax; it answers undefined rather than guess when it meets something unexpected.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * [start, end) of the value of member `key` of the top-level object, the last one when the key
 * repeats (JSON.parse, Python's json and Go's encoding/json all keep the last). Keys written
 * with escapes ("mod\u0065l") are decoded before comparing.
 */
export function topLevelValueSpan(bytes: Uint8Array, key: string): [number, number] | undefined {
  let i = skipWhitespace(bytes, 0);
  if (bytes[i] !== OPEN_OBJECT) return undefined;
  let found: [number, number] | undefined;
  i = skipWhitespace(bytes, i + 1);
  if (bytes[i] === CLOSE_OBJECT) return undefined;
  for (;;) {
    if (bytes[i] !== QUOTE) return undefined;
    const keyStart = i;
    i = skipString(bytes, i);
    const name = keyText(bytes, keyStart, i);
    i = skipWhitespace(bytes, i);
    if (bytes[i] !== COLON) return undefined;
    i = skipWhitespace(bytes, i + 1);
    const valueStart = i;
    i = skipValue(bytes, i);
    if (name === key) found = [valueStart, i];
    i = skipWhitespace(bytes, i);
    if (bytes[i] === CLOSE_OBJECT) return found;
    if (bytes[i] !== COMMA) return undefined;
    i = skipWhitespace(bytes, i + 1);
  }
}

function skipWhitespace(b: Uint8Array, i: number): number {
  while (i < b.length) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** From an opening quote to just past its closing quote. */
function skipString(b: Uint8Array, i: number): number {
  let j = i + 1;
  while (j < b.length) {
    const c = b[j];
    if (c === BACKSLASH) j += 2;
    else if (c === QUOTE) return j + 1;
    else j++;
  }
  return b.length;
}

function skipValue(b: Uint8Array, i: number): number {
  const first = b[i];
  if (first === QUOTE) return skipString(b, i);
  if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
    let depth = 0;
    let j = i;
    while (j < b.length) {
      const c = b[j];
      if (c === QUOTE) {
        j = skipString(b, j);
        continue;
      }
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
      else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (--depth === 0) return j + 1;
      }
      j++;
    }
    return b.length;
  }
  // A number, true, false or null: up to the next separator.
  let j = i;
  while (j < b.length) {
    const c = b[j];
    if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) break;
    j++;
  }
  return j;
}

function keyText(b: Uint8Array, start: number, end: number): string {
  const inner = Buffer.from(b.buffer, b.byteOffset + start + 1, Math.max(0, end - start - 2));
  return inner.includes(BACKSLASH) ? (JSON.parse(Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8')) as string) : inner.toString('utf8');
}
