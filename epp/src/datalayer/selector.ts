// Metric specs in PromQL instant-selector syntax (`name{label="v", l2=~"re"}`), as GIE's
// core-metrics-extractor takes them. Parsed once at config time (errors say where), matched per
// scrape in the worker. The metric name must be fixed because the scraper skips every line whose
// name no spec references before parsing: that is what keeps 10k scrapes/s affordable.

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
  /** Anchored regex for =~ / !~ (PromQL matches the whole value). */
  readonly regex?: RegExp;
}

export interface Selector {
  /** The exact series name (`x_bucket`, `x_count`, ... for histogram parts). */
  readonly metric: string;
  readonly matchers: readonly LabelMatcher[];
  /** The spec as written, for logs. */
  readonly text: string;
}

export class SelectorError extends Error {
  constructor(readonly spec: string, readonly position: number, reason: string) {
    super(`invalid metric selector ${JSON.stringify(spec)} at offset ${position}: ${reason}`);
    this.name = 'SelectorError';
  }
}

const METRIC_NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
// GIE accepts unquoted label values (`{request_type=waiting}` is its Triton default), so we do too.
const BARE_VALUE = /[^",}\s'`]+/y;

export function parseSelector(spec: string): Selector {
  const p = new SelectorParser(spec);
  return p.parse();
}

class SelectorParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): Selector {
    this.ws();
    let metric = this.match(METRIC_NAME);
    const matchers: LabelMatcher[] = [];
    this.ws();
    if (metric === undefined && this.peek() !== '{') this.fail('a metric name is required');
    if (this.peek() === '{') {
      this.i++;
      this.matcherList(matchers);
    }
    this.ws();
    if (this.i < this.s.length) this.fail(`unexpected ${JSON.stringify(this.s[this.i])}`);
    const nameMatchers = matchers.filter((m) => m.name === '__name__');
    if (nameMatchers.length > 0) {
      const fixed = nameMatchers.length === 1 && nameMatchers[0]?.op === '=' ? nameMatchers[0].value : undefined;
      if (metric !== undefined || fixed === undefined || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(fixed)) {
        this.fail('the metric name must be given once, as a fixed name');
      }
      metric = fixed;
    }
    if (metric === undefined) this.fail('a metric name is required');
    return {
      metric,
      matchers: Object.freeze(matchers.filter((m) => m.name !== '__name__')),
      text: this.s.trim(),
    };
  }

  private matcherList(out: LabelMatcher[]): void {
    for (;;) {
      this.ws();
      if (this.peek() === '}') {
        this.i++;
        return;
      }
      const name = this.match(LABEL_NAME);
      if (name === undefined) this.fail('expected a label name');
      this.ws();
      const op = this.op();
      this.ws();
      const value = this.value();
      let regex: RegExp | undefined;
      if (op === '=~' || op === '!~') {
        try {
          regex = new RegExp(`^(?:${value})$`, 'su');
        } catch (e) {
          this.fail(`bad regular expression ${JSON.stringify(value)}: ${(e as Error).message}`);
        }
      }
      out.push(regex ? { name, op, value, regex } : { name, op, value });
      this.ws();
      const c = this.peek();
      if (c === ',') {
        this.i++;
      } else if (c === '}') {
        this.i++;
        return;
      } else {
        this.fail(c === undefined ? 'missing "}"' : `expected "," or "}", got ${JSON.stringify(c)}`);
      }
    }
  }

  private op(): MatchOp {
    const two = this.s.slice(this.i, this.i + 2);
    if (two === '!=' || two === '=~' || two === '!~') {
      this.i += 2;
      return two;
    }
    if (this.peek() === '=') {
      this.i++;
      return '=';
    }
    return this.fail('expected one of =, !=, =~, !~');
  }

  private value(): string {
    const q = this.peek();
    if (q === '"' || q === "'") return this.quoted(q);
    if (q === '`') {
      const end = this.s.indexOf('`', this.i + 1);
      if (end < 0) this.fail('unterminated raw string');
      const v = this.s.slice(this.i + 1, end);
      this.i = end + 1;
      return v;
    }
    const bare = this.match(BARE_VALUE);
    if (bare === undefined) this.fail('expected a label value');
    return bare;
  }

  private quoted(q: string): string {
    let out = '';
    let j = this.i + 1;
    while (j < this.s.length) {
      const c = this.s[j] as string;
      if (c === q) {
        this.i = j + 1;
        return out;
      }
      if (c === '\\') {
        const e = this.s[j + 1];
        const mapped = e === undefined ? undefined : ESCAPES[e];
        if (mapped !== undefined) out += mapped;
        else {
          this.i = j;
          this.fail(`unknown escape \\${e ?? ''}`);
        }
        j += 2;
        continue;
      }
      out += c;
      j++;
    }
    this.i = j;
    return this.fail('unterminated string');
  }

  private match(re: RegExp): string | undefined {
    re.lastIndex = this.i;
    const m = re.exec(this.s);
    if (!m) return undefined;
    this.i = re.lastIndex;
    return m[0];
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i] as string)) this.i++;
  }

  private peek(): string | undefined {
    return this.s[this.i];
  }

  private fail(reason: string): never {
    throw new SelectorError(this.s, this.i, reason);
  }
}

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '"': '"', "'": "'", '\\': '\\' };

/**
 * PromQL semantics: an absent label equals the empty string, so `{a!="x"}` keeps series without
 * `a` and `{a=""}` selects them. The name is checked by the caller (samples are grouped by name).
 */
export function matchesLabels(sel: Selector, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const m of sel.matchers) {
    const v = labels?.[m.name] ?? '';
    switch (m.op) {
      case '=':
        if (v !== m.value) return false;
        break;
      case '!=':
        if (v === m.value) return false;
        break;
      case '=~':
        if (!(m.regex as RegExp).test(v)) return false;
        break;
      case '!~':
        if ((m.regex as RegExp).test(v)) return false;
        break;
    }
  }
  return true;
}
