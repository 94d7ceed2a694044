// Reads the parts of a WebAssembly binary a proxy-wasm host looks at before instantiating it: the
// imports and exports with their function signatures, the memory limits and the custom sections.
// Node cannot reflect import/export types (the type-reflection proposal is behind a flag), but V8 in
// Envoy checks them at link time, so the host needs them from the binary itself.
//
// This file has no runtime imports: filter/tools/build-filter.mjs transpiles and loads it directly.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface FuncSignature {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

export interface WasmImport {
  readonly module: string;
  readonly name: string;
  readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  /** For functions. */
  readonly signature?: FuncSignature;
}

export interface WasmExport {
  readonly name: string;
  readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  readonly signature?: FuncSignature;
}

export interface WasmModuleInfo {
  readonly imports: readonly WasmImport[];
  readonly exports: readonly WasmExport[];
  /** Initial/maximum pages of the module's own or imported memory (first one). */
  readonly memory?: { readonly initial: number; readonly maximum?: number };
  readonly customSections: readonly string[];
  /** Whether the module has a start section (run by instantiation itself). */
  readonly hasStartSection: boolean;
}

export class WasmFormatError extends Error {}

const VALTYPES: Record<number, ValType> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };
const KINDS = ['function', 'table', 'memory', 'global', 'tag'] as const;

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly end: number = bytes.length) {}

  byte(): number {
    if (this.pos >= this.end) throw new WasmFormatError('unexpected end of module');
    return this.bytes[this.pos++];
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 35) throw new WasmFormatError('LEB128 too long');
    }
    return result;
  }

  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) throw new WasmFormatError('name past end of section');
    const s = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  valtype(): ValType {
    const b = this.byte();
    const t = VALTYPES[b];
    if (!t) throw new WasmFormatError(`unknown value type 0x${b.toString(16)}`);
    return t;
  }

  limits(): { initial: number; maximum?: number } {
    const flags = this.byte();
    const initial = this.u32();
    return flags & 1 ? { initial, maximum: this.u32() } : { initial };
  }
}

/** Parses the sections of a module a host needs; throws WasmFormatError on a malformed binary. */
export function parseWasmModule(bytes: Uint8Array): WasmModuleInfo {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new WasmFormatError('not a WebAssembly module (bad magic)');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw new WasmFormatError('unsupported WebAssembly version');
  const types: FuncSignature[] = [];
  const imports: { module: string; name: string; kind: WasmImport['kind']; typeIndex?: number }[] = [];
  const funcTypeIndices: number[] = []; // imported functions first, then defined ones
  const exports: { name: string; kind: WasmExport['kind']; index: number }[] = [];
  const customSections: string[] = [];
  let memory: { initial: number; maximum?: number } | undefined;
  let hasStartSection = false;

  const top = new Reader(bytes);
  top.pos = 8;
  while (top.pos < bytes.length) {
    const id = top.byte();
    const size = top.u32();
    const end = top.pos + size;
    if (end > bytes.length) throw new WasmFormatError(`section ${id} past end of module`);
    const r = new Reader(bytes, end);
    r.pos = top.pos;
    switch (id) {
      case 0:
        customSections.push(r.name());
        break;
      case 1: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const form = r.byte();
          if (form !== 0x60) throw new WasmFormatError(`unsupported type form 0x${form.toString(16)}`);
          const params: ValType[] = [];
          for (let p = r.u32(); p > 0; p--) params.push(r.valtype());
          const results: ValType[] = [];
          for (let q = r.u32(); q > 0; q--) results.push(r.valtype());
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const module = r.name();
          const name = r.name();
          const kindByte = r.byte();
          const kind = KINDS[kindByte];
          if (!kind) throw new WasmFormatError(`unknown import kind ${kindByte}`);
          if (kind === 'function') {
            const typeIndex = r.u32();
            imports.push({ module, name, kind, typeIndex });
            funcTypeIndices.push(typeIndex);
          } else if (kind === 'table') {
            r.byte();
            r.limits();
            imports.push({ module, name, kind });
          } else if (kind === 'memory') {
            const lim = r.limits();
            memory ??= lim;
            imports.push({ module, name, kind });
          } else if (kind === 'global') {
            r.valtype();
            r.byte();
            imports.push({ module, name, kind });
          } else {
            r.byte();
            r.u32();
            imports.push({ module, name, kind });
          }
        }
        break;
      }
      case 3: {
        const n = r.u32();
        for (let i = 0; i < n; i++) funcTypeIndices.push(r.u32());
        break;
      }
      case 5: {
        const n = r.u32();
        if (n > 0) memory ??= r.limits();
        break;
      }
      case 7: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const name = r.name();
          const kindByte = r.byte();
          const kind = KINDS[kindByte];
          if (!kind) throw new WasmFormatError(`unknown export kind ${kindByte}`);
          exports.push({ name, kind, index: r.u32() });
        }
        break;
      }
      case 8:
        hasStartSection = true;
        break;
      default:
        break;
    }
    top.pos = end;
  }

  const sig = (typeIndex: number | undefined): FuncSignature | undefined => {
    if (typeIndex === undefined) return undefined;
    const t = types[typeIndex];
    if (!t) throw new WasmFormatError(`type index ${typeIndex} out of range`);
    return t;
  };
  return {
    imports: imports.map((i) => (i.kind === 'function' ? { module: i.module, name: i.name, kind: i.kind, signature: sig(i.typeIndex) } : { module: i.module, name: i.name, kind: i.kind })),
    exports: exports.map((e) =>
      e.kind === 'function' ? { name: e.name, kind: e.kind, signature: sig(funcTypeIndices[e.index]) } : { name: e.name, kind: e.kind },
    ),
    memory,
    customSections,
    hasStartSection,
  };
}
