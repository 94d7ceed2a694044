/**
 * The models' Split pre-tokenizer regexes as hand-written scanners (regex semantics: leftmost-first alternation,
 * greedy quantifiers with backtracking worked out by hand; see docs/tokenizer.md for each alternative).
 * All scanners work on a decoded piece: code points `cp[0..n)` and their property flags `fl[0..n)`; "end of
 * string" is the end of the piece (HF applies the regex to each piece separately).
 *
 * Qwen2/2.5/3 (digits = 1) and Llama 3.x (digits = 3):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * DeepSeek-V3 third split:
 *   [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 */
import { F_L, F_N, F_M, F_P, F_S, F_WS } from "./unicode";
import { CONTRACTION_FOLD_CHARS } from "./unicode_data";

// @ts-ignore: decorator
@inline function CP(cp: usize, i: i32): u32 {
  return load<u32>(cp + ((<usize>i) << 2));
}
// @ts-ignore: decorator
@inline function FL(fl: usize, i: i32): u8 {
  return load<u8>(fl + <usize>i);
}
// @ts-ignore: decorator
@inline function isCRLF(c: u32): bool {
  return c == 0x0d || c == 0x0a;
}

function isContractionLetter(c: u32): bool {
  for (let i = 0; i < CONTRACTION_FOLD_CHARS.length; i++) if (unchecked(CONTRACTION_FOLD_CHARS[i]) == c) return true;
  return false;
}
// @ts-ignore: decorator
@inline function asciiLower(c: u32): u32 {
  return c < 0x80 && ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) ? c | 0x20 : 0;
}

/** Whitespace alternatives shared by both regexes: \s*[\r\n]+ | \s+(?!\S) | \s+ at i (fl[i] has F_WS). */
function matchSpace(cp: usize, fl: usize, i: i32, n: i32): i32 {
  let k = i;
  let lastNl = -1;
  while (k < n && (FL(fl, k) & F_WS) != 0) {
    if (isCRLF(CP(cp, k))) lastNl = k;
    k++;
  }
  if (lastNl >= 0) return lastNl + 1;
  if (k == n) return k;
  if (k - i >= 2) return k - 1;
  return i + 1;
}

/** End of the Qwen/Llama match starting at i (there is always one, of length >= 1). */
export function matchQwenLlama(cp: usize, fl: usize, i: i32, n: i32, digits: i32): i32 {
  let c = CP(cp, i);
  let f = FL(fl, i);
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (c == 0x27 && i + 1 < n) {
    let c1 = CP(cp, i + 1);
    if (isContractionLetter(c1)) return i + 2;
    if (i + 2 < n) {
      let a = asciiLower(c1), b = asciiLower(CP(cp, i + 2));
      if ((a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6c && b == 0x6c)) return i + 3;
    }
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (f & F_L) {
    let j = i + 1;
    while (j < n && (FL(fl, j) & F_L)) j++;
    return j;
  }
  if (!isCRLF(c) && !(f & F_N) && i + 1 < n && (FL(fl, i + 1) & F_L)) {
    let j = i + 2;
    while (j < n && (FL(fl, j) & F_L)) j++;
    return j;
  }
  // \p{N}{1,digits}
  if (f & F_N) {
    let j = i + 1;
    let lim = i + digits;
    while (j < n && j < lim && (FL(fl, j) & F_N)) j++;
    return j;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  let j = -1;
  if ((f & (F_WS | F_L | F_N)) == 0) j = i;
  else if (c == 0x20 && i + 1 < n && (FL(fl, i + 1) & (F_WS | F_L | F_N)) == 0) j = i + 1;
  if (j >= 0) {
    j++;
    while (j < n && (FL(fl, j) & (F_WS | F_L | F_N)) == 0) j++;
    while (j < n && isCRLF(CP(cp, j))) j++;
    return j;
  }
  // f has F_WS here
  return matchSpace(cp, fl, i, n);
}

// @ts-ignore: decorator
@inline function isAsciiPunct(c: u32): bool {
  return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}
// @ts-ignore: decorator
@inline function isAsciiAlpha(c: u32): bool {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** End of the DeepSeek-V3 third-split match at i, or -1 when nothing matches at i. */
export function matchDeepSeek(cp: usize, fl: usize, i: i32, n: i32): i32 {
  let c = CP(cp, i);
  let f = FL(fl, i);
  // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+
  if (isAsciiPunct(c) && i + 1 < n && isAsciiAlpha(CP(cp, i + 1))) {
    let j = i + 2;
    while (j < n && isAsciiAlpha(CP(cp, j))) j++;
    return j;
  }
  // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
  if (f & (F_L | F_M)) {
    let j = i + 1;
    while (j < n && (FL(fl, j) & (F_L | F_M))) j++;
    return j;
  }
  if (!isCRLF(c) && (f & (F_L | F_P | F_S)) == 0 && i + 1 < n && (FL(fl, i + 1) & (F_L | F_M))) {
    let j = i + 2;
    while (j < n && (FL(fl, j) & (F_L | F_M))) j++;
    return j;
  }
  //  ?[\p{P}\p{S}]+[\r\n]*
  let j = -1;
  if (f & (F_P | F_S)) j = i;
  else if (c == 0x20 && i + 1 < n && (FL(fl, i + 1) & (F_P | F_S))) j = i + 1;
  if (j >= 0) {
    j++;
    while (j < n && (FL(fl, j) & (F_P | F_S))) j++;
    while (j < n && isCRLF(CP(cp, j))) j++;
    return j;
  }
  if (f & F_WS) return matchSpace(cp, fl, i, n);
  return -1;
}

/** DeepSeek's first split \p{N}{1,3}: end of the digit group at i, or -1. */
// @ts-ignore: decorator
@inline export function matchDigits3(fl: usize, i: i32, n: i32): i32 {
  if ((FL(fl, i) & F_N) == 0) return -1;
  let j = i + 1;
  while (j < n && j < i + 3 && (FL(fl, j) & F_N)) j++;
  return j;
}

/** DeepSeek's second split [一-龥぀-ゟ゠-ヿ]+ */
// @ts-ignore: decorator
@inline export function isDeepSeekCjk(c: u32): bool {
  return (c >= 0x4e00 && c <= 0x9fa5) || (c >= 0x3040 && c <= 0x30ff);
}
