// Replacements for the AssemblyScript runtime's `env.abort`, `env.trace` and `env.seed` imports
// (wired in through asconfig.json "use"), which Envoy does not provide: V8 would refuse to link the
// module ("Failed to load Wasm module due to a missing import: env.abort").
import { wasi_random_get } from './imports';
import { log } from './host';
import { LogLevel } from './types';

/**
 * Logs the failure at CRITICAL and traps. In Envoy a trap fails this worker's VM: the stream gets a
 * 503 (`wasm_fail_stream`) unless the plugin is fail-open (cpp-host CHECK_FAIL_HTTP).
 */
export function abortHandler(message: string | null, fileName: string | null, line: u32, column: u32): void {
  log(
    LogLevel.Critical,
    'tokenroute: abort: ' + (message !== null ? message : '') + ' at ' + (fileName !== null ? fileName : '?') + ':' + line.toString() + ':' + column.toString(),
  );
  unreachable();
}

export function traceHandler(message: string, n: i32, a0: f64, a1: f64, a2: f64, a3: f64, a4: f64): void {
  let s = 'tokenroute: trace: ' + message;
  if (n > 0) s += ' ' + a0.toString();
  if (n > 1) s += ' ' + a1.toString();
  if (n > 2) s += ' ' + a2.toString();
  if (n > 3) s += ' ' + a3.toString();
  if (n > 4) s += ' ' + a4.toString();
  log(LogLevel.Debug, s);
}

/** Seed for Math.random from the host's random_get (Envoy: RAND_bytes). */
export function seedHandler(): f64 {
  const buf = memory.data(8);
  if (wasi_random_get(buf, 8) != 0) return 1;
  return <f64>load<u64>(buf);
}
