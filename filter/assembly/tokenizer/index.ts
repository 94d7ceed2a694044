/**
 * tokenroute tokenization core — public API (stable; the proxy-wasm filter, the standalone module and the CLI use it).
 *
 * Byte-level BPE exactly as Hugging Face `tokenizers` (the library vLLM uses) encodes with
 * `add_special_tokens=false`: added/special-token split → normalizer (NFC for Qwen) → the model's split
 * pre-tokenizer → byte-level BPE (+ `ignore_merges` for Llama 3). The vocab/merges tables are compiled into
 * the wasm module's data segment by filter/tools (see docs/tokenizer.md); nothing is read from a filesystem.
 */
import { TokenBuffer } from "./buffer";
import { SegmentCache } from "./segment_cache";
import { Model, Trie, findTable, FLAG_NFC, FLAG_ADDS_BOS, PRETOK_QWEN, PRETOK_LLAMA3, ADDED_LSTRIP, ADDED_RSTRIP, ADDED_SINGLE_WORD } from "./tables";
import { Bpe } from "./bpe";
import { ByteBuf, isValidUtf8, sanitizeUtf8, stringToUtf8, decodeAt, lastSeqLen, pushCp } from "./utf8";
import { CpBuf, nfcInto } from "./nfc";
import { props, F_NFC, F_WS, F_L, F_N } from "./unicode";
import { matchQwenLlama, matchDeepSeek, matchDigits3, isDeepSeekCjk } from "./pretok";
export { TokenBuffer } from "./buffer";

const instances = new Map<string, Tokenizer>();

/** Default bytes of remembered segment ids per tokenizer (32 MiB ≈ 8M tokens). */
export const DEFAULT_SEGMENT_CACHE_BYTES: i64 = 32 << 20;
/** Gaps shorter than this (≈ 500 tokens) are tokenized every time. */
export const SEGMENT_CACHE_MIN_BYTES: i32 = 2048;
let segmentCacheBytes: i64 = DEFAULT_SEGMENT_CACHE_BYTES;

/** Canonical name for a model name or alias, or "" when unknown. */
export function canonicalModelName(name: string): string {
  let n = name.toLowerCase();
  if (n == "qwen3") return "qwen3";
  if (n == "qwen2_5" || n == "qwen2.5" || n == "qwen2" || n == "qwen2-5") return "qwen2_5";
  if (n == "llama3_1" || n == "llama3.1" || n == "llama3" || n == "llama3_3" || n == "llama3.3" || n == "llama-3.1" || n == "llama-3.3") return "llama3_1";
  if (n == "deepseek_v3" || n == "deepseek-v3" || n == "deepseekv3") return "deepseek_v3";
  return "";
}

export class Tokenizer {
  /**
   * Bytes of token ids each tokenizer of this VM keeps for long segments (segment_cache.ts); 0 turns
   * the cache off. Applies to the tokenizers already built and to later ones.
   */
  static configureSegmentCache(capacityBytes: i64): void {
    segmentCacheBytes = capacityBytes;
    let all = instances.values();
    for (let i = 0; i < all.length; i++) {
      let c = all[i].segments;
      if (c.capacityBytes != capacityBytes) {
        c.clear();
        c.capacityBytes = capacityBytes;
      }
    }
  }

  /**
   * The tokenizer for a model family embedded in this module, or null when the name is unknown or its tables
   * were not embedded. Names: 'qwen3' | 'qwen2_5' | 'llama3_1' | 'deepseek_v3' (aliases: 'qwen2', 'qwen2.5',
   * 'llama3', 'llama3.1', 'llama3_3', 'llama3.3', 'deepseek-v3'). The first call per name builds the in-memory hash
   * tables (a one-time cost per VM, see docs/tokenizer.md); later calls return the same instance.
   */
  static forModel(name: string): Tokenizer | null {
    let canon = canonicalModelName(name);
    if (canon.length == 0) return null;
    if (instances.has(canon)) return instances.get(canon);
    let idx = findTable(canon);
    if (idx < 0) return null;
    let m = Model.load(idx);
    if (m === null) return null;
    let t = new Tokenizer(canon, m);
    instances.set(canon, t);
    return t;
  }

  /** Canonical model name ('qwen3', 'qwen2_5', 'llama3_1', 'deepseek_v3'). */
  readonly name: string;
  /** The BOS token id of the model, or -1 when it has none (Qwen). */
  readonly bosId: i32;
  /** The EOS token id of the model as its tokenizer_config names it (Qwen3 `<|im_end|>`, Llama `<|eot_id|>`, DeepSeek `<｜end▁of▁sentence｜>`). */
  readonly eosId: i32;
  /**
   * Whether the model's post-processor prepends BOS when `add_special_tokens=true` (vLLM /v1/completions default):
   * true for Llama 3.x (128000) and DeepSeek-V3 (0, added by transformers' LlamaTokenizerFast), false for Qwen.
   * The tokenizer itself never adds special tokens: callers push `bosId` first when they want it.
   */
  readonly addsBos: bool;

  /** Token ids of long segments, remembered (a shared prefix is tokenized once). */
  readonly segments: SegmentCache = new SegmentCache(segmentCacheBytes, SEGMENT_CACHE_MIN_BYTES);

  private model: Model;
  private bpe: Bpe;
  private nfc: bool;
  private pretok: u32;
  private san: ByteBuf = new ByteBuf();
  private utf8: ByteBuf = new ByteBuf();
  private nfcBytes: ByteBuf = new ByteBuf();
  private cps: CpBuf = new CpBuf();
  private cps2: CpBuf = new CpBuf();
  private cps3: CpBuf = new CpBuf();
  private offs: CpBuf = new CpBuf();
  private fls: ByteBuf = new ByteBuf();
  /** The input being encoded (after lossy UTF-8 repair), for estimating what a stop leaves out. */
  private inBase: usize = 0;
  private inEnd: usize = 0;
  /** out.length when the input's encoding began. */
  private inFrom: i32 = 0;
  /** Start of the raw gap being encoded (a stop inside NFC-normalized text counts from here). */
  private rawCursor: usize = 0;
  /** Code points of the piece the DeepSeek splits are walking (a stop before its end leaves input). */
  private segCps: i32 = 0;

  private constructor(name: string, model: Model) {
    this.name = name;
    this.model = model;
    this.bosId = model.bosId;
    this.eosId = model.eosId;
    this.addsBos = (model.flags & FLAG_ADDS_BOS) != 0;
    this.nfc = (model.flags & FLAG_NFC) != 0;
    this.pretok = model.pretok;
    this.bpe = new Bpe(model);
  }

  /**
   * Appends the ids of `text` to `out`; no special tokens added; added tokens written in the text
   * (e.g. `<|im_start|>`) are recognised as HF does (vLLM's split_special_tokens=false). Lone surrogates are
   * encoded as U+FFFD (as Node's UTF-8 conversion does before HF sees the string).
   */
  encode(text: string, out: TokenBuffer): void {
    stringToUtf8(text, this.utf8);
    this.encodeValid(this.utf8.data, this.utf8.len, out);
  }

  /**
   * Like encode() for UTF-8 bytes. Invalid UTF-8 is decoded lossily first: each maximal ill-formed subsequence
   * becomes U+FFFD (WHATWG/Rust `from_utf8_lossy` rule), which is what a host that decodes the body to a string
   * before calling HF gets.
   */
  encodeUtf8(bytes: Uint8Array, out: TokenBuffer): void {
    this.encodeBytes(bytes.dataStart, bytes.length, out);
  }

  /** Zero-copy variant of encodeUtf8 over linear memory [ptr, ptr+len) (e.g. a proxy-wasm body buffer). */
  encodeBytes(ptr: usize, len: i32, out: TokenBuffer): void {
    if (len <= 0) return;
    if (isValidUtf8(ptr, len)) {
      this.encodeValid(ptr, len, out);
    } else {
      sanitizeUtf8(ptr, len, this.san);
      this.encodeValid(this.san.data, this.san.len, out);
    }
  }

  /** Id of an added/special token by exact content (e.g. '<|im_start|>'), or -1. */
  addedTokenId(content: string): i32 {
    let m = this.model;
    let b = String.UTF8.encode(content);
    let p = changetype<usize>(b);
    let l = b.byteLength;
    for (let i = 0; i < m.addedIds.length; i++) {
      if (m.addedLen[i] == l && memory.compare(m.addedPtr[i], p, <usize>l) == 0) return m.addedIds[i];
    }
    return -1;
  }

  /** Word-cache statistics (hits, misses) since load. */
  cacheHits(): i64 {
    return this.bpe.cacheHits;
  }
  cacheMisses(): i64 {
    return this.bpe.cacheMisses;
  }

  // ---- pipeline ------------------------------------------------------------------------------------------------

  /** Valid UTF-8 in [p, p+len): split out non-normalized added tokens, then handle the gaps. */
  private encodeValid(p: usize, len: i32, out: TokenBuffer): void {
    this.inBase = p;
    this.inEnd = p + <usize>len;
    this.inFrom = out.length;
    this.rawCursor = p;
    let trie = this.model.rawTrie;
    if (trie.empty) {
      this.encodeSegment(p, len, out);
      return;
    }
    this.splitAdded(trie, p, len, out, true);
  }

  /**
   * Tokenizing stops with the input from `q` on left (out.limit reached): estimates its ids at the
   * rate of ids per byte so far. `q` outside the input (inside NFC-normalized text) counts from the
   * raw gap being encoded.
   */
  private stopAt(out: TokenBuffer, q: usize): void {
    if (q < this.inBase || q > this.inEnd) q = this.rawCursor;
    let consumed = <f64>(q - this.inBase);
    let rest = <f64>(this.inEnd - q);
    let produced = <f64>(out.length - this.inFrom);
    out.stopped = true;
    out.restEstimate = <i32>Math.round(consumed > 0 ? (rest * produced) / consumed : rest / 4);
  }

  /**
   * Leftmost-longest added-token matching (HF AddedVocabulary::find_matches, incl. lstrip/rstrip/single_word);
   * gaps go to encodeSegment (raw pass) or preTokenize (normalized pass).
   */
  private splitAdded(trie: Trie, p: usize, len: i32, out: TokenBuffer, raw: bool): void {
    let m = this.model;
    let end = p + <usize>len;
    let segStart = p;
    let q = p;
    let first = trie.first;
    while (q < end) {
      // Most bytes cannot begin an added token (every added token of the embedded models starts
      // with '<'): skip them in a tight loop instead of a trie walk per byte — on a 100K-token
      // prompt this scan was the tokenizer's largest cost once the token cache holds the context.
      while (q < end && !unchecked(first[<i32>load<u8>(q)])) q++;
      if (q >= end) break;
      let ml = trie.longestAt(q, end);
      if (ml == 0) {
        q++;
        continue;
      }
      let idx = trie.lastValue;
      let start = q;
      let stop = q + <usize>ml;
      let fl = m.addedFlags[idx];
      if (fl & ADDED_SINGLE_WORD) {
        if ((start > p && endsWithWord(p, start)) || (stop < end && startsWithWord(stop, end))) {
          q++;
          continue;
        }
      }
      if (fl & ADDED_LSTRIP) {
        let ns = start;
        while (ns > segStart) {
          let b = prevCharStart(segStart, ns);
          if ((props(decodeAt(b)) & F_WS) == 0) break;
          ns = b;
        }
        start = ns;
      }
      if (fl & ADDED_RSTRIP) {
        while (stop < end) {
          let c = decodeAt(stop);
          if ((props(c) & F_WS) == 0) break;
          stop += <usize>lastSeqLen;
        }
      }
      if (start > segStart) {
        if (raw) {
          this.rawCursor = segStart;
          this.encodeSegment(segStart, <i32>(start - segStart), out);
        } else this.preTokenizeCached(segStart, <i32>(start - segStart), out);
        // Stopped inside the gap: the ids must stay a prefix, so not even this added token.
        if (out.stopped) return;
      }
      out.push(<u32>m.addedIds[idx]);
      q = stop;
      segStart = stop;
      if (out.length >= out.limit && segStart < end) {
        this.stopAt(out, segStart);
        return;
      }
    }
    if (end > segStart) {
      if (raw) {
        this.rawCursor = segStart;
        this.encodeSegment(segStart, <i32>(end - segStart), out);
      } else this.preTokenizeCached(segStart, <i32>(end - segStart), out);
    }
  }

  /** A gap between raw added tokens: normalize (NFC), split normalized added tokens, pre-tokenize, BPE. */
  private encodeSegment(p: usize, len: i32, out: TokenBuffer): void {
    if (len <= 0) return;
    if (this.nfc && this.needsNfc(p, len)) {
      let src = this.cps;
      src.len = 0;
      src.ensure(len);
      let end = p + <usize>len;
      let q = p;
      while (q < end) {
        src.push(decodeAt(q));
        q += <usize>lastSeqLen;
      }
      nfcInto(src, this.cps2, this.cps3);
      let nb = this.nfcBytes;
      nb.len = 0;
      nb.ensure(this.cps2.len * 4 + 4);
      for (let i = 0; i < this.cps2.len; i++) pushCp(nb, this.cps2.get(i));
      p = nb.data;
      len = nb.len;
    }
    let nt = this.model.normTrie;
    if (!nt.empty) this.splitAdded(nt, p, len, out, false);
    else this.preTokenizeCached(p, len, out);
  }

  /**
   * The last split of the pipeline — normalized text between added tokens — pre-tokenized and
   * BPE'd. HF splits at added tokens (raw, then normalized ones) before pre-tokenizing, so such a
   * piece's ids depend on its bytes alone: a long one's ids are remembered (segment_cache.ts).
   */
  private preTokenizeCached(p: usize, len: i32, out: TokenBuffer): void {
    let cache = this.segments;
    if (!cache.wants(len)) {
      this.preTokenize(p, len, out);
      return;
    }
    if (cache.lookup(p, len, out)) return;
    let from = out.length;
    this.preTokenize(p, len, out);
    if (!out.stopped) cache.store(p, len, out, from);
  }

  /** True when NFC could change [p, p+len): some code point >= U+0300 is NFC-unsafe (ccc != 0 or NFC_QC != Yes). */
  private needsNfc(p: usize, len: i32): bool {
    let end = p + <usize>len;
    let q = p;
    // fast path: bytes < 0xCC are code points < U+0300 (all NFC-safe)
    while (q + 8 <= end) {
      let w = load<u64>(q);
      if ((w & 0x8080808080808080) != 0) break;
      q += 8;
    }
    while (q < end) {
      let b = load<u8>(q);
      if (b < 0xcc) {
        q++;
        continue;
      }
      if (b < 0xc0) {
        q++; // continuation byte of a 2-byte sequence < U+0300
        continue;
      }
      let c = decodeAt(q);
      if (props(c) & F_NFC) return true;
      q += <usize>lastSeqLen;
    }
    return false;
  }

  /** Decodes [p, p+len) and runs the model's split pre-tokenizer; each piece goes to BPE. */
  private preTokenize(p: usize, len: i32, out: TokenBuffer): void {
    if (len <= 0) return;
    let cps = this.cps, offs = this.offs, fls = this.fls;
    cps.len = 0;
    offs.len = 0;
    cps.ensure(len + 1);
    offs.ensure(len + 1);
    fls.ensure(len + 1);
    let end = p + <usize>len;
    let q = p;
    let n = 0;
    let cpd = cps.data, ofd = offs.data, fld = fls.data;
    while (q < end) {
      let c = decodeAt(q);
      store<u32>(cpd + ((<usize>n) << 2), c);
      store<u32>(ofd + ((<usize>n) << 2), <u32>(q - p));
      store<u8>(fld + <usize>n, props(c));
      q += <usize>lastSeqLen;
      n++;
    }
    store<u32>(ofd + ((<usize>n) << 2), <u32>len);
    let bpe = this.bpe;
    if (this.pretok == PRETOK_QWEN || this.pretok == PRETOK_LLAMA3) {
      let digits = this.pretok == PRETOK_QWEN ? 1 : 3;
      let i = 0;
      while (i < n) {
        let e = matchQwenLlama(cpd, fld, i, n, digits);
        let bs = load<u32>(ofd + ((<usize>i) << 2));
        let be = load<u32>(ofd + ((<usize>e) << 2));
        bpe.encodeWord(p + <usize>bs, <i32>(be - bs), out);
        i = e;
        if (out.length >= out.limit && i < n) {
          this.stopAt(out, p + <usize>be);
          return;
        }
      }
    } else {
      this.segCps = n;
      this.dsDigits(p, cpd, fld, ofd, 0, n, out);
    }
  }

  // DeepSeek-V3: Split(\p{N}{1,3}) → Split([一-龥぀-ゟ゠-ヿ]+) → Split(big regex), all Isolated.
  private dsDigits(p: usize, cpd: usize, fld: usize, ofd: usize, s: i32, e: i32, out: TokenBuffer): void {
    let gap = s;
    let i = s;
    while (i < e && !out.stopped) {
      let j = matchDigits3(fld, i, e);
      if (j < 0) {
        i++;
        continue;
      }
      if (i > gap) this.dsCjk(p, cpd, fld, ofd, gap, i, out);
      this.dsCjk(p, cpd, fld, ofd, i, j, out);
      i = j;
      gap = j;
    }
    if (e > gap) this.dsCjk(p, cpd, fld, ofd, gap, e, out);
  }

  private dsCjk(p: usize, cpd: usize, fld: usize, ofd: usize, s: i32, e: i32, out: TokenBuffer): void {
    let gap = s;
    let i = s;
    while (i < e && !out.stopped) {
      if (!isDeepSeekCjk(load<u32>(cpd + ((<usize>i) << 2)))) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < e && isDeepSeekCjk(load<u32>(cpd + ((<usize>j) << 2)))) j++;
      if (i > gap) this.dsMain(p, cpd, fld, ofd, gap, i, out);
      this.dsMain(p, cpd, fld, ofd, i, j, out);
      i = j;
      gap = j;
    }
    if (e > gap) this.dsMain(p, cpd, fld, ofd, gap, e, out);
  }

  private dsMain(p: usize, cpd: usize, fld: usize, ofd: usize, s: i32, e: i32, out: TokenBuffer): void {
    let gap = s;
    let i = s;
    while (i < e && !out.stopped) {
      let j = matchDeepSeek(cpd, fld, i, e);
      if (j < 0) {
        i++;
        continue;
      }
      if (i > gap) this.word(p, ofd, gap, i, out);
      this.word(p, ofd, i, j, out);
      i = j;
      gap = j;
    }
    if (e > gap) this.word(p, ofd, gap, e, out);
  }

  // @ts-ignore: decorator
  @inline private word(p: usize, ofd: usize, s: i32, e: i32, out: TokenBuffer): void {
    if (out.stopped) return;
    let bs = load<u32>(ofd + ((<usize>s) << 2));
    let be = load<u32>(ofd + ((<usize>e) << 2));
    this.bpe.encodeWord(p + <usize>bs, <i32>(be - bs), out);
    if (out.length >= out.limit && e < this.segCps) this.stopAt(out, p + <usize>be);
  }
}

/** Start of the UTF-8 char that ends at `q` (q > lo). */
function prevCharStart(lo: usize, q: usize): usize {
  let b = q - 1;
  while (b > lo && (load<u8>(b) & 0xc0) == 0x80) b--;
  return b;
}

/** HF's `ends_with_word`: last char of [lo, q) is alphanumeric or '_' (approximated by \p{L}|\p{N}). */
function endsWithWord(lo: usize, q: usize): bool {
  let c = decodeAt(prevCharStart(lo, q));
  return c == 0x5f || (props(c) & (F_L | F_N)) != 0;
}
function startsWithWord(q: usize, end: usize): bool {
  let c = decodeAt(q);
  return c == 0x5f || (props(c) & (F_L | F_N)) != 0;
}
