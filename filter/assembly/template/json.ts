/** A small JSON reader/writer for the standalone module's renderChat(request JSON) entry. */

export const J_NULL: i32 = 0, J_BOOL: i32 = 1, J_NUM: i32 = 2, J_STR: i32 = 3, J_ARR: i32 = 4, J_OBJ: i32 = 5;

export class JsonValue {
  kind: i32 = J_NULL;
  b: bool = false;
  n: f64 = 0;
  s: string = "";
  items: JsonValue[] = [];
  keys: string[] = [];

  get(key: string): JsonValue | null {
    if (this.kind != J_OBJ) return null;
    for (let i = this.keys.length - 1; i >= 0; i--) if (this.keys[i] == key) return this.items[i];
    return null;
  }
  has(key: string): bool {
    return this.get(key) !== null;
  }
}

export class JsonParser {
  private s: string;
  private i: i32 = 0;
  error: string = "";
  constructor(s: string) {
    this.s = s;
  }

  parse(): JsonValue | null {
    let v = this.value(0);
    if (v === null) return null;
    this.ws();
    if (this.i != this.s.length) return this.fail("trailing characters");
    return v;
  }

  private fail(msg: string): JsonValue | null {
    if (this.error.length == 0) this.error = msg + " at " + this.i.toString();
    return null;
  }
  private ws(): void {
    while (this.i < this.s.length) {
      let c = this.s.charCodeAt(this.i);
      if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) this.i++;
      else break;
    }
  }
  private value(depth: i32): JsonValue | null {
    if (depth > 64) return this.fail("nesting too deep");
    this.ws();
    if (this.i >= this.s.length) return this.fail("unexpected end");
    let c = this.s.charCodeAt(this.i);
    let v = new JsonValue();
    if (c == 0x7b) {
      this.i++;
      v.kind = J_OBJ;
      this.ws();
      if (this.peek() == 0x7d) {
        this.i++;
        return v;
      }
      while (true) {
        this.ws();
        if (this.peek() != 0x22) return this.fail("expected key");
        let k = this.str();
        if (k === null) return null;
        this.ws();
        if (this.peek() != 0x3a) return this.fail("expected ':'");
        this.i++;
        let x = this.value(depth + 1);
        if (x === null) return null;
        v.keys.push(k);
        v.items.push(x);
        this.ws();
        let d = this.peek();
        this.i++;
        if (d == 0x2c) continue;
        if (d == 0x7d) return v;
        return this.fail("expected ',' or '}'");
      }
    }
    if (c == 0x5b) {
      this.i++;
      v.kind = J_ARR;
      this.ws();
      if (this.peek() == 0x5d) {
        this.i++;
        return v;
      }
      while (true) {
        let x = this.value(depth + 1);
        if (x === null) return null;
        v.items.push(x);
        this.ws();
        let d = this.peek();
        this.i++;
        if (d == 0x2c) continue;
        if (d == 0x5d) return v;
        return this.fail("expected ',' or ']'");
      }
    }
    if (c == 0x22) {
      let s = this.str();
      if (s === null) return null;
      v.kind = J_STR;
      v.s = s;
      return v;
    }
    if (this.s.startsWith("true", this.i)) {
      this.i += 4;
      v.kind = J_BOOL;
      v.b = true;
      return v;
    }
    if (this.s.startsWith("false", this.i)) {
      this.i += 5;
      v.kind = J_BOOL;
      return v;
    }
    if (this.s.startsWith("null", this.i)) {
      this.i += 4;
      return v;
    }
    let st = this.i;
    while (this.i < this.s.length) {
      let d = this.s.charCodeAt(this.i);
      if ((d >= 0x30 && d <= 0x39) || d == 0x2d || d == 0x2b || d == 0x2e || d == 0x65 || d == 0x45) this.i++;
      else break;
    }
    if (st == this.i) return this.fail("unexpected character");
    v.kind = J_NUM;
    v.n = parseFloat(this.s.substring(st, this.i));
    return v;
  }
  private peek(): i32 {
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }
  private str(): string | null {
    this.i++; // opening quote
    let out = "";
    let run = this.i;
    while (true) {
      if (this.i >= this.s.length) {
        this.fail("unterminated string");
        return null;
      }
      let c = this.s.charCodeAt(this.i);
      if (c == 0x22) {
        out += this.s.substring(run, this.i);
        this.i++;
        return out;
      }
      if (c == 0x5c) {
        out += this.s.substring(run, this.i);
        this.i++;
        let e = this.peek();
        this.i++;
        if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else if (e == 0x2f) out += "/";
        else if (e == 0x5c) out += "\\";
        else if (e == 0x22) out += '"';
        else if (e == 0x75) {
          if (this.i + 4 > this.s.length) {
            this.fail("bad \\u escape");
            return null;
          }
          let h = this.hex4(this.i);
          if (h < 0) {
            this.fail("bad \\u escape");
            return null;
          }
          this.i += 4;
          out += String.fromCharCode(h); // surrogate pairs arrive as two escapes and concatenate
        } else {
          this.fail("bad escape");
          return null;
        }
        run = this.i;
        continue;
      }
      this.i++;
    }
  }
  private hex4(at: i32): i32 {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      let d = this.s.charCodeAt(at + k);
      let x: i32;
      if (d >= 0x30 && d <= 0x39) x = d - 0x30;
      else if (d >= 0x61 && d <= 0x66) x = d - 0x61 + 10;
      else if (d >= 0x41 && d <= 0x46) x = d - 0x41 + 10;
      else return -1;
      v = (v << 4) | x;
    }
    return v;
  }
}

/** JSON string literal of s (Python json.dumps(ensure_ascii=False) escaping: ", \, \n \r \t \b \f, other C0 as \u00XX). */
export function jsonQuote(s: string): string {
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += s.substring(run, i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c == 0x08) out += "\\b";
    else if (c == 0x0c) out += "\\f";
    else {
      let h = c.toString(16);
      while (h.length < 4) h = "0" + h;
      out += "\\u" + h;
    }
    run = i + 1;
  }
  out += s.substring(run);
  return out + '"';
}
