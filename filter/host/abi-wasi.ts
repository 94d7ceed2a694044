// The WASI host functions (wasi_unstable / wasi_snapshot_preview1) as proxy-wasm-cpp-host serves
// them to a proxy-wasm module (exports.cc wasi_unstable_*): stdout and stderr become log lines,
// clocks, random bytes, environ from VmConfig.environment_variables, and everything a filter
// has no business doing (files, sockets) answered the way cpp-host answers it.
import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { WASI_RANDOM_GET_MAX_BYTES } from './envoy-abi.js';
import type { LogEntry } from './types.js';
import type { Vm } from './vm.js';

// WASI errno values.
const E_SUCCESS = 0;
const E_BADF = 8;
const E_FAULT = 21;
const E_INVAL = 28;
const E_NOSYS = 52;
const E_NOTSUP = 58;
const E_NOENT = 44;
const E_NOTDIR = 20;

// proxy_log levels fd_write maps stdout and stderr to.
const LOG_INFO = 2;
const LOG_ERROR = 4;

/** What the WASI functions need from the host. */
export interface WasiHost {
  /** VmConfig.environment_variables. */
  readonly env: Readonly<Record<string, string>>;
  realtimeNs(): bigint;
  monotonicNs(): bigint;
  pluginLog(level: number, message: string, vm: Vm, source: LogEntry['source']): void;
  emitLog(entry: LogEntry): void;
}

/** WASI as cpp-host implements it (exports.cc wasi_unstable_*). */
export function wasiFunctions(self: Vm, host: WasiHost): Record<string, (...args: never[]) => unknown> {
  const badfUnlessStd = (fd: number) => (fd === 1 || fd === 2 ? E_SUCCESS : E_BADF);
  const writev = (fd: number, iovs: number, iovsLen: number): { errno: number; written: number } => {
    let level: number;
    if (fd === 1) level = LOG_INFO;
    else if (fd === 2) level = LOG_ERROR;
    else return { errno: E_BADF, written: 0 };
    const parts: Buffer[] = [];
    for (let i = 0; i < iovsLen; i++) {
      const iov = self.getMemory(iovs + i * 8, 8);
      if (!iov) return { errno: E_FAULT, written: 0 };
      const dv = new DataView(iov.buffer, iov.byteOffset, 8);
      const len = dv.getUint32(4, true);
      if (len !== 0) {
        const data = self.getMemory(dv.getUint32(0, true), len);
        if (!data) return { errno: E_FAULT, written: 0 };
        parts.push(Buffer.from(data));
      }
    }
    let s = Buffer.concat(parts).toString('utf8');
    const written = parts.reduce((n, p) => n + p.length, 0);
    if (written > 0) {
      if (s.endsWith('\n')) s = s.slice(0, -1); // one trailing newline is dropped
      host.pluginLog(level, s, self, 'fd_write');
    }
    return { errno: E_SUCCESS, written };
  };
  return {
    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
      const r = writev(fd, iovs, iovsLen);
      if (r.errno !== E_SUCCESS) return r.errno;
      return self.setWord(nwrittenPtr, r.written) ? E_SUCCESS : E_FAULT;
    },
    fd_pwrite(fd: number, iovs: number, iovsLen: number, _offset: bigint, nwrittenPtr: number): number {
      if (fd !== 1 && fd !== 2) return E_BADF;
      const r = writev(fd, iovs, iovsLen);
      if (r.errno !== E_SUCCESS) return r.errno;
      return self.setWord(nwrittenPtr, r.written) ? E_SUCCESS : E_FAULT;
    },
    fd_read: () => E_NOSYS,
    fd_seek: () => E_SUCCESS,
    fd_close: () => E_SUCCESS,
    fd_fdstat_get(fd: number, statPtr: number): number {
      if (fd !== 1 && fd !== 2) return E_BADF;
      const b = Buffer.alloc(24);
      b.writeBigUInt64LE(64n, 8); // fs_rights_base = __WASI_RIGHTS_FD_WRITE
      self.setMemory(statPtr, new Uint8Array(b));
      return E_SUCCESS;
    },
    fd_fdstat_set_flags: () => E_NOSYS,
    fd_fdstat_set_rights: badfUnlessStd,
    environ_get(environPtr: number, environBuf: number): number {
      for (const [k, v] of Object.entries(host.env)) {
        if (!self.setWord(environPtr, environBuf)) return E_FAULT;
        const data = new Uint8Array(Buffer.from(`${k}=${v}\0`, 'utf8'));
        if (!self.setMemory(environBuf, data)) return E_FAULT;
        environBuf += data.length;
        environPtr += 4;
      }
      return E_SUCCESS;
    },
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      const entries = Object.entries(host.env);
      if (!self.setWord(countPtr, entries.length)) return E_FAULT;
      const size = entries.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 2, 0);
      return self.setWord(sizePtr, size) ? E_SUCCESS : E_FAULT;
    },
    args_get: () => E_SUCCESS,
    args_sizes_get(argcPtr: number, sizePtr: number): number {
      return self.setWord(argcPtr, 0) && self.setWord(sizePtr, 0) ? E_SUCCESS : E_FAULT;
    },
    clock_time_get(clockId: number, _precision: bigint, resultPtr: number): number {
      let t: bigint;
      if (clockId === 0) t = host.realtimeNs();
      else if (clockId === 1) t = host.monotonicNs();
      else return E_NOTSUP;
      return self.setU64(resultPtr, t) ? E_SUCCESS : E_FAULT;
    },
    clock_res_get(clockId: number, resultPtr: number): number {
      if (clockId !== 0 && clockId !== 1) return E_NOTSUP;
      return self.setU64(resultPtr, 1n) ? E_SUCCESS : E_FAULT;
    },
    fd_advise: () => E_SUCCESS,
    fd_allocate: badfUnlessStd,
    fd_datasync: badfUnlessStd,
    fd_filestat_set_size: badfUnlessStd,
    fd_filestat_set_times: badfUnlessStd,
    fd_pread: () => E_NOSYS,
    fd_readdir(_fd: number, _buf: number, _len: number, _cookie: bigint, nreadPtr: number): number {
      return self.setWord(nreadPtr, 0) ? E_NOTDIR : E_FAULT;
    },
    fd_renumber: (fd: number, to: number) => ((fd !== 1 && fd !== 2) || (to !== 1 && to !== 2) ? E_BADF : E_NOTSUP),
    fd_sync: badfUnlessStd,
    fd_tell(fd: number, resultPtr: number): number {
      if (fd !== 1 && fd !== 2) return E_BADF;
      return self.setU64(resultPtr, 0n) ? E_SUCCESS : E_FAULT;
    },
    path_create_directory: () => E_NOTSUP,
    path_filestat_set_times: () => E_NOTSUP,
    path_link: () => E_NOTSUP,
    path_readlink(_fd: number, _p: number, _l: number, _b: number, _bl: number, resultPtr: number): number {
      return self.setWord(resultPtr, 0) ? E_NOTSUP : E_FAULT;
    },
    path_remove_directory: () => E_NOTSUP,
    path_rename: () => E_NOTSUP,
    path_symlink: () => E_NOTSUP,
    path_unlink_file: () => E_NOTSUP,
    sock_accept(_fd: number, _flags: number, resultPtr: number): number {
      return self.setWord(resultPtr, 0) ? E_NOTSUP : E_FAULT;
    },
    sock_recv(_fd: number, _d: number, _l: number, _f: number, r0: number, r1: number): number {
      const ok = self.setWord(r0, 0) && !!self.getMemory(r1, 2);
      if (ok) self.getMemory(r1, 2)!.fill(0);
      return ok ? E_NOTSUP : E_FAULT;
    },
    sock_send(_fd: number, _d: number, _l: number, _f: number, r0: number): number {
      return self.setWord(r0, 0) ? E_NOTSUP : E_FAULT;
    },
    sock_shutdown: () => E_NOTSUP,
    random_get(bufPtr: number, len: number): number {
      if (len >>> 0 > WASI_RANDOM_GET_MAX_BYTES) return E_INVAL;
      if (len === 0) return E_SUCCESS;
      const dst = self.getMemory(bufPtr, len);
      if (!dst) return E_FAULT;
      randomFillSync(dst);
      return E_SUCCESS;
    },
    sched_yield: () => E_SUCCESS,
    poll_oneoff(_in: number, _out: number, _n: number, neventsPtr: number): number {
      return self.setWord(neventsPtr, 0) ? E_SUCCESS : E_FAULT;
    },
    proc_exit(): void {
      // cpp-host only logs it; the module keeps running (an AS abort then traps on `unreachable`).
      host.emitLog({ level: 'error', message: 'wasi_unstable proc_exit', worker: self.worker, contextId: self.context()?.id ?? 0, source: 'host' });
    },
    path_open: () => E_NOENT,
    fd_prestat_get: () => E_BADF,
    fd_prestat_dir_name: () => E_NOSYS,
    path_filestat_get: () => E_NOTSUP,
    fd_filestat_get: () => E_BADF,
  } as Record<string, (...args: never[]) => unknown>;
}
