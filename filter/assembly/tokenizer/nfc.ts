/** Unicode NFC (UAX #15: canonical decomposition, canonical ordering, canonical composition) over code points. */
import { ccc, compose, decompositionOf, decompositionCp } from "./unicode";

/** A growable u32 array in linear memory (scratch; reused). */
export class CpBuf {
  data: usize = 0;
  cap: i32 = 0;
  len: i32 = 0;
  ensure(n: i32): void {
    if (n <= this.cap) return;
    let c = this.cap < 256 ? 256 : this.cap;
    while (c < n) c <<= 1;
    let nd = heap.alloc((<usize>c) << 2);
    if (this.data) {
      memory.copy(nd, this.data, (<usize>this.len) << 2);
      heap.free(this.data);
    }
    this.data = nd;
    this.cap = c;
  }
  @inline push(v: u32): void {
    if (this.len == this.cap) this.ensure(this.len + 1);
    store<u32>(this.data + ((<usize>this.len) << 2), v);
    this.len++;
  }
  @inline get(i: i32): u32 {
    return load<u32>(this.data + ((<usize>i) << 2));
  }
  @inline set(i: i32, v: u32): void {
    store<u32>(this.data + ((<usize>i) << 2), v);
  }
}

const S_BASE: u32 = 0xac00, L_BASE: u32 = 0x1100, V_BASE: u32 = 0x1161, T_BASE: u32 = 0x11a7;
const L_COUNT: u32 = 19, V_COUNT: u32 = 21, T_COUNT: u32 = 28, N_COUNT: u32 = 588, S_COUNT: u32 = 11172;

function decomposeInto(cp: u32, out: CpBuf): void {
  if (cp < 0xc0) {
    out.push(cp);
    return;
  }
  if (cp - S_BASE < S_COUNT) {
    let s = cp - S_BASE;
    out.push(L_BASE + s / N_COUNT);
    out.push(V_BASE + (s % N_COUNT) / T_COUNT);
    let t = s % T_COUNT;
    if (t != 0) out.push(T_BASE + t);
    return;
  }
  let d = decompositionOf(cp);
  if (d == 0) {
    out.push(cp);
    return;
  }
  let off = d >> 8, n = d & 0xff;
  for (let i: u32 = 0; i < n; i++) out.push(decompositionCp(off + i));
}

function composePair(a: u32, b: u32): u32 {
  if (a - L_BASE < L_COUNT && b - V_BASE < V_COUNT) return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
  if (a - S_BASE < S_COUNT && (a - S_BASE) % T_COUNT == 0 && b - T_BASE - 1 < T_COUNT - 1) return a + (b - T_BASE);
  if (b < 0x300) return 0;
  return compose(a, b);
}

/** out = NFC(src). `tmp` is scratch. */
export function nfcInto(src: CpBuf, out: CpBuf, tmp: CpBuf): void {
  tmp.len = 0;
  tmp.ensure(src.len + 8);
  for (let i = 0; i < src.len; i++) decomposeInto(src.get(i), tmp);
  let n = tmp.len;
  // canonical ordering: stable insertion sort of each run of non-starters by ccc
  let i = 0;
  while (i < n) {
    if (ccc(tmp.get(i)) == 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && ccc(tmp.get(j)) != 0) j++;
    for (let a = i + 1; a < j; a++) {
      let v = tmp.get(a);
      let cv = ccc(v);
      let b = a - 1;
      while (b >= i && ccc(tmp.get(b)) > cv) {
        tmp.set(b + 1, tmp.get(b));
        b--;
      }
      tmp.set(b + 1, v);
    }
    i = j;
  }
  // canonical composition (in place in tmp)
  out.len = 0;
  if (n == 0) return;
  let starterPos = 0;
  let starterCh = tmp.get(0);
  let lastClass: i32 = <i32>ccc(starterCh);
  if (lastClass != 0) lastClass = 256;
  let compPos = 1;
  for (let d = 1; d < n; d++) {
    let ch = tmp.get(d);
    let chClass: i32 = <i32>ccc(ch);
    let composite = composePair(starterCh, ch);
    if (composite != 0 && (lastClass < chClass || lastClass == 0)) {
      tmp.set(starterPos, composite);
      starterCh = composite;
    } else {
      if (chClass == 0) {
        starterPos = compPos;
        starterCh = ch;
      }
      lastClass = chClass;
      tmp.set(compPos++, ch);
    }
  }
  out.ensure(compPos);
  memory.copy(out.data, tmp.data, (<usize>compPos) << 2);
  out.len = compPos;
}
