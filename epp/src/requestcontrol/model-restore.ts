// Undoes a model rewrite on the response path: the model server answers with the target model
// name ("model":"<target>"), the client must see the name it asked for. Works on a stream of
// chunks without buffering a response: only when a chunk ends in the middle of a possible match
// are those few bytes held back until the next chunk (SSE events end in "\n\n", so in practice
// nothing is delayed).

export class ModelNameRestorer {
  private readonly patterns: { from: Buffer; to: Buffer }[];
  private readonly longest: number;
  private carry: Buffer = Buffer.alloc(0);

  constructor(targetModel: string, clientModel: string) {
    const forms = (m: string) => [`"model":${JSON.stringify(m)}`, `"model": ${JSON.stringify(m)}`];
    const to = forms(clientModel);
    this.patterns = forms(targetModel).map((f, i) => ({ from: Buffer.from(f), to: Buffer.from(to[i]) }));
    this.longest = Math.max(...this.patterns.map((p) => p.from.length));
  }

  /** Returns the bytes to send now. With `end`, everything held back is flushed. */
  push(chunk: Buffer, end: boolean): Buffer {
    let data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = Buffer.alloc(0);
    if (!end) {
      const hold = this.partialMatchAtEnd(data);
      if (hold > 0) {
        this.carry = Buffer.from(data.subarray(data.length - hold));
        data = data.subarray(0, data.length - hold);
      }
    }
    return this.replaceAll(data);
  }

  private replaceAll(data: Buffer): Buffer {
    let out: Buffer[] | undefined;
    let start = 0;
    let i = 0;
    while (i < data.length) {
      const quote = data.indexOf(0x22 /* " */, i);
      if (quote < 0) break;
      const p = this.patterns.find((pat) => data.subarray(quote, quote + pat.from.length).equals(pat.from));
      if (p) {
        out ??= [];
        out.push(data.subarray(start, quote), p.to);
        start = i = quote + p.from.length;
      } else {
        i = quote + 1;
      }
    }
    if (!out) return data;
    out.push(data.subarray(start));
    return Buffer.concat(out);
  }

  /** Length of the longest suffix of `data` that is a proper prefix of some pattern. */
  private partialMatchAtEnd(data: Buffer): number {
    const max = Math.min(this.longest - 1, data.length);
    for (let len = max; len > 0; len--) {
      const tail = data.subarray(data.length - len);
      if (this.patterns.some((p) => p.from.subarray(0, len).equals(tail))) return len;
    }
    return 0;
  }
}
