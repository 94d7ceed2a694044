// The filter's one JSON reader: strict and bounded (RFC 8259), built for untrusted request bodies
// and used for every JSON the filter reads (request bodies, the plugin configuration, the core's
// renderChat requests):
//  - one linear pass, no recursion (an explicit container stack capped at `maxDepth`), so neither
//    deep nesting nor a long input can exhaust the stack or loop;
//  - every string is checked as it is scanned: well-formed UTF-8 (no overlongs, no surrogates, no
//    code points above U+10FFFF), valid escapes, no raw control characters, and \u escapes must
//    pair surrogates correctly — a lone surrogate is rejected, as pydantic's parser (jiter) in vLLM
//    rejects it — unless the caller asks for Python json.loads' leniency (LoneSurrogates.Accept);
//  - values are not copied: the result is a "tape" of fixed-size entries pointing into the input,
//    and strings are decoded only when asked for.
// It never throws: every failure is a JsonError code with the byte offset.
import { validSeqLen } from '../tokenizer/utf8';
import { decodeEscaped, hex4 } from './escapes';

export const enum JsonKind {
  Null = 0,
  False = 1,
  True = 2,
  Number = 3,
  String = 4,
  Array = 5,
  Object = 6,
}

export const enum JsonError {
  None = 0,
  Syntax = 1,
  Depth = 2,
  Utf8 = 3,
  Empty = 4,
}

/** What a \u escape of an unpaired surrogate (\ud800 alone, \udc00) means. */
export const enum LoneSurrogates {
  /** Invalid (JsonError.Utf8), as pydantic / jiter reject it in vLLM's request parsing. */
  Reject = 0,
  /** A UTF-16 code unit of its own, as Python's json.loads accepts it. */
  Accept = 1,
}

// Tape entry layout (5 × i32 per value):
//   [0] kind | flags << 8   flags: STRING_ESCAPED, NUMBER_INTEGER
//   [1] start byte offset (strings: after the opening quote; containers: at the bracket)
//   [2] end byte offset, exclusive (strings: at the closing quote; containers: after the bracket)
//   [3] index of the entry after this value and its members (the next sibling)
//   [4] containers: number of members (pairs for objects)
// An object's members are laid out key, value, key, value...
const STRIDE = 5;
const FLAG_ESCAPED: i32 = 1 << 8;
const FLAG_INTEGER: i32 = 2 << 8;

export class JsonDoc {
  bytes: Uint8Array;
  error: JsonError = JsonError.None;
  errorOffset: i32 = 0;
  tape: StaticArray<i32>;
  count: i32 = 0;
  /** The nesting limit the input was parsed with (for error messages). */
  maxDepth: i32 = 0;
  private acceptLoneSurrogates: bool;

  constructor(bytes: Uint8Array, surrogates: LoneSurrogates) {
    this.bytes = bytes;
    this.tape = new StaticArray<i32>(64 * STRIDE);
    this.acceptLoneSurrogates = surrogates == LoneSurrogates.Accept;
  }

  get ok(): bool {
    return this.error == JsonError.None;
  }

  /**
   * Why parsing failed, with the byte offset: "invalid UTF-8 at byte N", "JSON nested deeper than
   * D at byte N", "empty input" or "malformed JSON at byte N"; "" when it did not.
   */
  errorMessage(): string {
    switch (this.error) {
      case JsonError.None:
        return '';
      case JsonError.Utf8:
        return `invalid UTF-8 at byte ${this.errorOffset}`;
      case JsonError.Depth:
        return `JSON nested deeper than ${this.maxDepth} at byte ${this.errorOffset}`;
      case JsonError.Empty:
        return 'empty input';
      default:
        return `malformed JSON at byte ${this.errorOffset}`;
    }
  }

  /** The root value's index (0), or -1 when parsing failed. */
  get root(): i32 {
    return this.error == JsonError.None && this.count > 0 ? 0 : -1;
  }

  kind(v: i32): JsonKind {
    return <JsonKind>(unchecked(this.tape[v * STRIDE]) & 0xff);
  }

  isString(v: i32): bool {
    return v >= 0 && this.kind(v) == JsonKind.String;
  }

  isArray(v: i32): bool {
    return v >= 0 && this.kind(v) == JsonKind.Array;
  }

  isObject(v: i32): bool {
    return v >= 0 && this.kind(v) == JsonKind.Object;
  }

  isNull(v: i32): bool {
    return v >= 0 && this.kind(v) == JsonKind.Null;
  }

  /** true / false for booleans, `dflt` for anything else (absent included). */
  boolOr(v: i32, dflt: bool): bool {
    if (v < 0) return dflt;
    const k = this.kind(v);
    if (k == JsonKind.True) return true;
    if (k == JsonKind.False) return false;
    return dflt;
  }

  isBool(v: i32): bool {
    if (v < 0) return false;
    const k = this.kind(v);
    return k == JsonKind.True || k == JsonKind.False;
  }

  /** Members of an array, or pairs of an object. */
  length(v: i32): i32 {
    const k = this.kind(v);
    return k == JsonKind.Array || k == JsonKind.Object ? unchecked(this.tape[v * STRIDE + 4]) : 0;
  }

  /** First member of a container (-1 when empty or not a container). */
  first(v: i32): i32 {
    return this.length(v) > 0 ? v + 1 : -1;
  }

  /** The value after `v` inside the same container (its members skipped). */
  next(v: i32): i32 {
    return unchecked(this.tape[v * STRIDE + 3]);
  }

  /** i-th element of an array, or -1. Linear in i (use first/next to iterate). */
  at(arr: i32, i: i32): i32 {
    if (!this.isArray(arr) || i < 0 || i >= this.length(arr)) return -1;
    let v = arr + 1;
    for (let j = 0; j < i; j++) v = this.next(v);
    return v;
  }

  /**
   * The value of `key` in an object, or -1. The last occurrence wins for duplicate keys, as with
   * Python's json module and pydantic.
   */
  get(obj: i32, key: string): i32 {
    if (!this.isObject(obj)) return -1;
    const n = this.length(obj);
    let k = obj + 1;
    let found = -1;
    for (let i = 0; i < n; i++) {
      const val = this.next(k);
      if (this.stringEquals(k, key)) found = val;
      k = this.next(val);
    }
    return found;
  }

  /** Compares a string value with an ASCII/Unicode literal without allocating when unescaped. */
  stringEquals(v: i32, s: string): bool {
    if (!this.isString(v)) return false;
    const start = unchecked(this.tape[v * STRIDE + 1]);
    const end = unchecked(this.tape[v * STRIDE + 2]);
    if ((unchecked(this.tape[v * STRIDE]) & FLAG_ESCAPED) != 0) return this.str(v) == s;
    // Unescaped: compare UTF-8 bytes with the literal's UTF-16, ASCII fast path.
    const n = end - start;
    if (n != s.length) {
      // Non-ASCII content has more bytes than code units; fall back to decoding.
      return n > s.length ? this.str(v) == s : false;
    }
    const base = this.bytes.dataStart;
    for (let i = 0; i < n; i++) {
      const c = <i32>load<u8>(base + <usize>(start + i));
      if (c >= 0x80) return this.str(v) == s;
      if (c != <i32>s.charCodeAt(i)) return false;
    }
    return true;
  }

  /** A value's JSON text exactly as it appears in the input (strings without their quotes). */
  raw(v: i32): string {
    if (v < 0) return '';
    const start = unchecked(this.tape[v * STRIDE + 1]);
    const end = unchecked(this.tape[v * STRIDE + 2]);
    return String.UTF8.decodeUnsafe(this.bytes.dataStart + <usize>start, <usize>(end - start));
  }

  /** Byte length of a string value as it appears in the input (escapes not resolved). */
  rawLength(v: i32): i32 {
    return unchecked(this.tape[v * STRIDE + 2]) - unchecked(this.tape[v * STRIDE + 1]);
  }

  /** A view of a string value's bytes when it has no escapes (valid UTF-8), else null. */
  unescapedBytes(v: i32): Uint8Array | null {
    if (!this.isString(v) || (unchecked(this.tape[v * STRIDE]) & FLAG_ESCAPED) != 0) return null;
    return this.bytes.subarray(unchecked(this.tape[v * STRIDE + 1]), unchecked(this.tape[v * STRIDE + 2]));
  }

  /** Decodes a string value ("" for non-strings). Input was validated, so this cannot fail. */
  str(v: i32): string {
    if (!this.isString(v)) return '';
    const start = unchecked(this.tape[v * STRIDE + 1]);
    const end = unchecked(this.tape[v * STRIDE + 2]);
    const base = this.bytes.dataStart;
    if ((unchecked(this.tape[v * STRIDE]) & FLAG_ESCAPED) == 0) {
      return String.UTF8.decodeUnsafe(base + <usize>start, <usize>(end - start));
    }
    return decodeEscaped(base, start, end);
  }

  /** Whether a number value is an integer literal (no fraction, no exponent). */
  isInteger(v: i32): bool {
    return v >= 0 && this.kind(v) == JsonKind.Number && (unchecked(this.tape[v * STRIDE]) & FLAG_INTEGER) != 0;
  }

  /**
   * An integer literal's value if it lies in [min, max]; otherwise `fallback`. Literals longer than
   * 18 digits are out of range for our uses and rejected without overflow.
   */
  intInRange(v: i32, min: i64, max: i64, fallback: i64): i64 {
    if (!this.isInteger(v)) return fallback;
    let pos = unchecked(this.tape[v * STRIDE + 1]);
    const end = unchecked(this.tape[v * STRIDE + 2]);
    const base = this.bytes.dataStart;
    let neg = false;
    if (load<u8>(base + <usize>pos) == 0x2d) {
      neg = true;
      pos++;
    }
    if (end - pos > 18) return fallback;
    let x: i64 = 0;
    for (let i = pos; i < end; i++) x = x * 10 + <i64>(load<u8>(base + <usize>i) - 0x30);
    if (neg) x = -x;
    return x >= min && x <= max ? x : fallback;
  }

  private push(kind: i32, a: i32, b: i32): i32 {
    const idx = this.count;
    let need = (idx + 1) * STRIDE;
    if (need > this.tape.length) {
      let cap = this.tape.length * 2;
      while (cap < need) cap *= 2;
      const t = new StaticArray<i32>(cap);
      memory.copy(changetype<usize>(t), changetype<usize>(this.tape), <usize>this.tape.length << 2);
      this.tape = t;
    }
    const o = idx * STRIDE;
    unchecked((this.tape[o] = kind));
    unchecked((this.tape[o + 1] = a));
    unchecked((this.tape[o + 2] = b));
    unchecked((this.tape[o + 3] = idx + 1));
    unchecked((this.tape[o + 4] = 0));
    this.count = idx + 1;
    return idx;
  }

  private fail(code: JsonError, offset: i32): JsonDoc {
    this.error = code;
    this.errorOffset = offset;
    this.count = 0;
    return this;
  }

  /** Parses the whole input; trailing non-whitespace is an error. */
  parse(maxDepth: i32): JsonDoc {
    this.maxDepth = maxDepth;
    const base = this.bytes.dataStart;
    const n = this.bytes.length;
    // Open containers: tape index and member count.
    const stack = new StaticArray<i32>(maxDepth + 1);
    const counts = new StaticArray<i32>(maxDepth + 1);
    let depth = 0;
    let pos = skipWs(base, 0, n);
    if (pos >= n) return this.fail(JsonError.Empty, pos);

    while (true) {
      // ---- a value starts at pos ----
      if (pos >= n) return this.fail(JsonError.Syntax, pos);
      const c = <i32>load<u8>(base + <usize>pos);
      let opened = false;
      if (c == 0x7b /* { */ || c == 0x5b /* [ */) {
        if (depth >= maxDepth) return this.fail(JsonError.Depth, pos);
        const idx = this.push(c == 0x7b ? JsonKind.Object : JsonKind.Array, pos, pos + 1);
        unchecked((stack[depth] = idx));
        unchecked((counts[depth] = 0));
        depth++;
        pos = skipWs(base, pos + 1, n);
        if (pos >= n) return this.fail(JsonError.Syntax, pos);
        const d = <i32>load<u8>(base + <usize>pos);
        if (d == (c == 0x7b ? 0x7d : 0x5d)) {
          // empty container: closed below
          pos++;
          depth--;
          unchecked((this.tape[idx * STRIDE + 2] = pos));
          unchecked((this.tape[idx * STRIDE + 3] = this.count));
        } else if (c == 0x7b) {
          pos = this.key(base, pos, n);
          if (pos < 0) return this;
          unchecked((counts[depth - 1] = 1));
          opened = true;
        } else {
          unchecked((counts[depth - 1] = 1));
          opened = true;
        }
      } else if (c == 0x22 /* " */) {
        pos = this.string(base, pos, n);
        if (pos < 0) return this;
      } else if (c == 0x74 /* t */) {
        if (!literal(base, pos, n, 0x74, 0x72, 0x75, 0x65)) return this.fail(JsonError.Syntax, pos);
        this.push(JsonKind.True, pos, pos + 4);
        pos += 4;
      } else if (c == 0x66 /* f */) {
        if (pos + 5 > n || load<u8>(base + <usize>pos + 4) != 0x65 || !literal(base, pos, n, 0x66, 0x61, 0x6c, 0x73)) {
          return this.fail(JsonError.Syntax, pos);
        }
        this.push(JsonKind.False, pos, pos + 5);
        pos += 5;
      } else if (c == 0x6e /* n */) {
        if (!literal(base, pos, n, 0x6e, 0x75, 0x6c, 0x6c)) return this.fail(JsonError.Syntax, pos);
        this.push(JsonKind.Null, pos, pos + 4);
        pos += 4;
      } else if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
        pos = this.number(base, pos, n);
        if (pos < 0) return this;
      } else {
        return this.fail(c >= 0x80 ? JsonError.Utf8 : JsonError.Syntax, pos);
      }
      if (opened) continue; // the first member's value starts at pos

      // ---- after a value: close containers or move to the next member ----
      while (true) {
        pos = skipWs(base, pos, n);
        if (depth == 0) {
          if (pos != n) return this.fail(JsonError.Syntax, pos);
          return this;
        }
        if (pos >= n) return this.fail(JsonError.Syntax, pos);
        const top = unchecked(stack[depth - 1]);
        const isObj = (unchecked(this.tape[top * STRIDE]) & 0xff) == JsonKind.Object;
        const d = <i32>load<u8>(base + <usize>pos);
        if (d == 0x2c /* , */) {
          pos = skipWs(base, pos + 1, n);
          if (isObj) {
            pos = this.key(base, pos, n);
            if (pos < 0) return this;
          }
          unchecked((counts[depth - 1] = counts[depth - 1] + 1));
          break; // next value
        }
        if (d == (isObj ? 0x7d : 0x5d)) {
          unchecked((this.tape[top * STRIDE + 4] = counts[depth - 1]));
          unchecked((this.tape[top * STRIDE + 3] = this.count));
          depth--;
          pos++;
          unchecked((this.tape[top * STRIDE + 2] = pos));
          continue;
        }
        return this.fail(JsonError.Syntax, pos);
      }
    }
  }

  /** An object key, whitespace, ':' and whitespace; returns the position of the value. */
  private key(base: usize, pos: i32, n: i32): i32 {
    if (pos >= n || load<u8>(base + <usize>pos) != 0x22) {
      this.fail(JsonError.Syntax, pos);
      return -1;
    }
    pos = this.string(base, pos, n);
    if (pos < 0) return -1;
    pos = skipWs(base, pos, n);
    if (pos >= n || load<u8>(base + <usize>pos) != 0x3a /* : */) {
      this.fail(JsonError.Syntax, pos);
      return -1;
    }
    return skipWs(base, pos + 1, n);
  }

  /** Scans and validates a string starting at the opening quote; returns the position after it. */
  private string(base: usize, pos: i32, n: i32): i32 {
    const start = pos + 1;
    let i = start;
    let escaped = false;
    while (true) {
      if (i >= n) {
        this.fail(JsonError.Syntax, i);
        return -1;
      }
      const c = <i32>load<u8>(base + <usize>i);
      if (c == 0x22) break;
      if (c < 0x20) {
        this.fail(JsonError.Syntax, i);
        return -1;
      }
      if (c == 0x5c /* \ */) {
        escaped = true;
        if (i + 1 >= n) {
          this.fail(JsonError.Syntax, i);
          return -1;
        }
        const e = <i32>load<u8>(base + <usize>(i + 1));
        if (e == 0x75 /* u */) {
          const cu = hex4(base, i + 2, n);
          if (cu < 0) {
            this.fail(JsonError.Syntax, i);
            return -1;
          }
          if (cu >= 0xdc00 && cu <= 0xdfff && !this.acceptLoneSurrogates) {
            this.fail(JsonError.Utf8, i); // lone low surrogate
            return -1;
          }
          if (cu >= 0xd800 && cu <= 0xdbff && !this.acceptLoneSurrogates) {
            // must be followed by \uDC00-\uDFFF
            if (i + 12 > n) {
              this.fail(JsonError.Utf8, i);
              return -1;
            }
            if (load<u8>(base + <usize>(i + 6)) != 0x5c || load<u8>(base + <usize>(i + 7)) != 0x75) {
              this.fail(JsonError.Utf8, i);
              return -1;
            }
            const lo = hex4(base, i + 8, n);
            if (lo < 0xdc00 || lo > 0xdfff) {
              this.fail(lo < 0 ? JsonError.Syntax : JsonError.Utf8, i);
              return -1;
            }
            i += 12;
          } else {
            i += 6;
          }
          continue;
        }
        if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
          i += 2;
          continue;
        }
        this.fail(JsonError.Syntax, i);
        return -1;
      }
      if (c < 0x80) {
        i++;
        continue;
      }
      const len = validSeqLen(base + <usize>i, base + <usize>n);
      if (len == 0) {
        this.fail(JsonError.Utf8, i);
        return -1;
      }
      i += len;
    }
    this.push(JsonKind.String | (escaped ? FLAG_ESCAPED : 0), start, i);
    return i + 1;
  }

  /** Scans a number (RFC 8259 grammar); returns the position after it. */
  private number(base: usize, pos: i32, n: i32): i32 {
    let i = pos;
    let integer = true;
    if (load<u8>(base + <usize>i) == 0x2d) i++;
    if (i >= n) {
      this.fail(JsonError.Syntax, i);
      return -1;
    }
    let c = <i32>load<u8>(base + <usize>i);
    if (c == 0x30) {
      i++;
    } else if (c >= 0x31 && c <= 0x39) {
      while (i < n && isDigit(load<u8>(base + <usize>i))) i++;
    } else {
      this.fail(JsonError.Syntax, i);
      return -1;
    }
    if (i < n && load<u8>(base + <usize>i) == 0x2e /* . */) {
      integer = false;
      i++;
      if (i >= n || !isDigit(load<u8>(base + <usize>i))) {
        this.fail(JsonError.Syntax, i);
        return -1;
      }
      while (i < n && isDigit(load<u8>(base + <usize>i))) i++;
    }
    if (i < n && (load<u8>(base + <usize>i) | 0x20) == 0x65 /* e E */) {
      integer = false;
      i++;
      if (i < n && (load<u8>(base + <usize>i) == 0x2b || load<u8>(base + <usize>i) == 0x2d)) i++;
      if (i >= n || !isDigit(load<u8>(base + <usize>i))) {
        this.fail(JsonError.Syntax, i);
        return -1;
      }
      while (i < n && isDigit(load<u8>(base + <usize>i))) i++;
    }
    this.push(JsonKind.Number | (integer ? FLAG_INTEGER : 0), pos, i);
    return i;
  }
}

/**
 * Parses `bytes` as one JSON value with at most `maxDepth` nested containers; lone surrogate
 * escapes are rejected unless `surrogates` is LoneSurrogates.Accept.
 */
export function parseJson(bytes: Uint8Array, maxDepth: i32, surrogates: LoneSurrogates = LoneSurrogates.Reject): JsonDoc {
  return new JsonDoc(bytes, surrogates).parse(maxDepth < 1 ? 1 : maxDepth);
}

// @ts-ignore: decorator
@inline
function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

function skipWs(base: usize, pos: i32, n: i32): i32 {
  while (pos < n) {
    const c = load<u8>(base + <usize>pos);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    pos++;
  }
  return pos;
}

function literal(base: usize, pos: i32, n: i32, a: u8, b: u8, c: u8, d: u8): bool {
  if (pos + 4 > n) return false;
  return (
    load<u8>(base + <usize>pos) == a &&
    load<u8>(base + <usize>pos + 1) == b &&
    load<u8>(base + <usize>pos + 2) == c &&
    load<u8>(base + <usize>pos + 3) == d
  );
}
