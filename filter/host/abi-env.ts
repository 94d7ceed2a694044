// The env host functions of proxy-wasm ABI v0.2.1 as Envoy serves them (proxy-wasm-cpp-host
// exports.cc, which calls Envoy's Context: getProperty/setProperty, getBuffer, getMap/getConstMap,
// continueStream/closeStream/sendLocalResponse, defineMetric and friends, shared data and queues).
// Each function translates wasm pointers through the calling VM and reads the stream of the
// VM's current context; the host behind them is EnvHost.
import { Buffer } from 'node:buffer';
import {
  BufferType,
  BUFFER_TYPE_MAX,
  CUSTOM_STAT_NAMESPACE,
  MapType,
  MAP_TYPE_MAX,
  METRIC_ID_INCREMENT,
  METRIC_TYPE_MASK,
  MetricType,
  Status,
  StreamType,
  STREAM_TYPE_MAX,
} from './envoy-abi.js';
import { HeaderMap, parsePairs, serializePairs } from './header-map.js';
import { getProperty, type PropertyScope } from './properties.js';
import { bytesStringToUtf8, concat, HostTrap, type Metric, type SharedState, type StreamState } from './state.js';
import type { LogEntry } from './types.js';
import type { Vm } from './vm.js';

/** What the env functions need from the host. */
export interface EnvHost {
  /** proxy_get_log_level's answer (an index into LOG_LEVEL_NAMES). */
  readonly logLevel: number;
  readonly shared: SharedState;
  readonly vmId: string;
  readonly pluginName: string;
  readonly rootId: string;
  /** VmConfig.configuration (the VmConfiguration buffer). */
  readonly vmConfig: Uint8Array;
  realtimeNs(): bigint;
  /** A plugin log line, dropped below the host's level. */
  pluginLog(level: number, message: string, vm: Vm, source: LogEntry['source']): void;
}

export function envFunctions(self: Vm, host: EnvHost): Record<string, (...args: never[]) => unknown> {
  const stream = (): StreamState | undefined => self.context()?.stream;
  // proxy_add_header_map_value and proxy_replace_header_map_value differ only in the map operation.
  const writeHeader = (op: 'add' | 'set', type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number => {
    if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
    const key = self.readString(keyPtr, keySize);
    const value = self.readString(valuePtr, valueSize);
    if (key === undefined || value === undefined) return Status.InvalidMemoryAccess;
    const map = mutableMap(stream(), u32(type));
    if (!map) return Status.BadArgument;
    map[op](key, value);
    return Status.Ok;
  };
  const u32 = (x: number) => x >>> 0;

  return {
    proxy_log(level: number, ptr: number, size: number): number {
      const msg = self.readString(ptr, size);
      if (msg === undefined) return Status.InvalidMemoryAccess;
      if (level < 0 || level > 5) throw new HostTrap('proxy_log: invalid log level'); // Envoy PANICs on others
      host.pluginLog(level, bytesStringToUtf8(msg), self, 'proxy_log');
      return Status.Ok;
    },
    proxy_get_log_level(ptr: number): number {
      return self.setWord(ptr, host.logLevel) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_get_current_time_nanoseconds(ptr: number): number {
      return self.setU64(ptr, host.realtimeNs()) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_set_tick_period_milliseconds(ms: number): number {
      self.tickPeriodMs = u32(ms); // cpp-host: the period of the root context
      return Status.Ok;
    },
    proxy_get_status(codePtr: number, ptrPtr: number, sizePtr: number): number {
      if (!self.setWord(codePtr, 0)) return Status.InvalidMemoryAccess;
      return self.copyToPointerSize(new Uint8Array(0), ptrPtr, sizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    // -- properties (Envoy Context::getProperty / setProperty)
    proxy_get_property(pathPtr: number, pathSize: number, valuePtrPtr: number, valueSizePtr: number): number {
      const path = self.readString(pathPtr, pathSize);
      if (path === undefined) return Status.InvalidMemoryAccess;
      const value = getProperty(path, propertyScope(host, stream()));
      if (value === undefined) return Status.NotFound;
      return self.copyToPointerSize(value, valuePtrPtr, valueSizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_set_property(pathPtr: number, pathSize: number, valuePtr: number, valueSize: number): number {
      const path = self.readString(pathPtr, pathSize);
      const value = self.getMemory(valuePtr, valueSize);
      if (path === undefined || !value) return Status.InvalidMemoryAccess;
      const s = stream();
      if (!s) return Status.NotFound; // no stream info (root context)
      s.filterState.set(`wasm.${path}`, new Uint8Array(value));
      return Status.Ok;
    },

    // -- buffers (cpp-host exports.cc get_buffer_bytes / get_buffer_status / set_buffer_bytes;
    //    Envoy Context::getBuffer, Buffer::copyFrom)
    proxy_get_buffer_bytes(type: number, start: number, length: number, ptrPtr: number, sizePtr: number): number {
      if (u32(type) > BUFFER_TYPE_MAX) return Status.BadArgument;
      const buf = getBuffer(self, host, u32(type));
      if (!buf) return Status.NotFound;
      start = u32(start);
      length = u32(length);
      if (start + length > 0xffffffff) return Status.BadArgument; // `start > start + length` in u32
      if (start > buf.length) length = 0;
      else if (start + length > buf.length) length = buf.length - start;
      if (length === 0) return self.setWord(ptrPtr, 0) && self.setWord(sizePtr, 0) ? Status.Ok : Status.InvalidMemoryAccess;
      return self.copyToPointerSize(buf.subarray(start, start + length), ptrPtr, sizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_get_buffer_status(type: number, lengthPtr: number, flagsPtr: number): number {
      if (u32(type) > BUFFER_TYPE_MAX) return Status.BadArgument;
      const buf = getBuffer(self, host, u32(type));
      if (!buf) return Status.NotFound;
      return self.setWord(lengthPtr, buf.length) && self.setWord(flagsPtr, 0) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_set_buffer_bytes(type: number, start: number, length: number, dataPtr: number, dataSize: number): number {
      if (u32(type) > BUFFER_TYPE_MAX) return Status.BadArgument;
      const data = self.getMemory(dataPtr, dataSize);
      if (!data) return Status.InvalidMemoryAccess;
      return setBuffer(self, u32(type), u32(start), u32(length), new Uint8Array(data));
    },

    // -- header maps (cpp-host exports.cc; Envoy Context::getMap / getConstMap and the
    //    HeaderMap operations)
    proxy_get_header_map_value(type: number, keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number): number {
      if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
      const key = self.readString(keyPtr, keySize);
      if (key === undefined) return Status.InvalidMemoryAccess;
      const map = constMap(stream(), u32(type));
      if (!map) return Status.BadArgument; // "Requested map type is not currently available"
      const v = map.get(key);
      if (v === undefined) return Status.NotFound;
      return self.copyToPointerSize(new Uint8Array(Buffer.from(v, 'latin1')), valuePtrPtr, valueSizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number): number {
      if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
      const map = constMap(stream(), u32(type));
      const pairs = map ? map.pairs() : []; // headerMapToPairs(nullptr) is empty, still Ok
      const data = pairs.length === 0 ? new Uint8Array(0) : serializePairs(pairs);
      return self.copyToPointerSize(data, ptrPtr, sizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_get_header_map_size(type: number, resultPtr: number): number {
      if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
      const map = mutableMap(stream(), u32(type));
      if (!map) return Status.BadArgument;
      return self.setWord(resultPtr, map.byteSize()) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_add_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
      return writeHeader('add', type, keyPtr, keySize, valuePtr, valueSize);
    },
    proxy_replace_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
      return writeHeader('set', type, keyPtr, keySize, valuePtr, valueSize);
    },
    proxy_remove_header_map_value(type: number, keyPtr: number, keySize: number): number {
      if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
      const key = self.readString(keyPtr, keySize);
      if (key === undefined) return Status.InvalidMemoryAccess;
      const map = mutableMap(stream(), u32(type));
      if (!map) return Status.BadArgument;
      map.remove(key);
      return Status.Ok;
    },
    proxy_set_header_map_pairs(type: number, ptr: number, size: number): number {
      if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
      const data = self.getMemory(ptr, size);
      if (!data) return Status.InvalidMemoryAccess;
      const map = mutableMap(stream(), u32(type));
      if (!map) return Status.BadArgument;
      map.clear();
      for (const [k, v] of parsePairs(data)) map.add(k, v);
      return Status.Ok;
    },

    // -- stream control (Envoy Context::continueStream / closeStream / sendLocalResponse)
    proxy_continue_stream(type: number): number {
      if (u32(type) > STREAM_TYPE_MAX) return Status.BadArgument;
      const s = stream();
      if (u32(type) === StreamType.Request && s) {
        self.afterCall.push(() => {
          s.continueRequested = true;
        });
        s.headersAvailable = false; // request_headers_ = nullptr
        s.currentChunk = null;
        s.trailersAvailable = false;
      }
      if (u32(type) === StreamType.Upstream) return Status.Unimplemented;
      return Status.Ok;
    },
    proxy_close_stream(type: number): number {
      if (u32(type) > STREAM_TYPE_MAX) return Status.BadArgument;
      const s = stream();
      if (u32(type) === StreamType.Request && s) self.afterCall.push(() => (s.resetRequested = true));
      return Status.Ok;
    },
    proxy_send_local_response(
      status: number,
      detailsPtr: number,
      detailsSize: number,
      bodyPtr: number,
      bodySize: number,
      headersPtr: number,
      headersSize: number,
      grpcStatus: number,
    ): number {
      const details = self.readString(detailsPtr, detailsSize);
      const body = self.readString(bodyPtr, bodySize);
      const headers = self.getMemory(headersPtr, headersSize);
      if (details === undefined || body === undefined || !headers) return Status.InvalidMemoryAccess;
      const pairs = parsePairs(headers).map(([k, v]) => [k.toLowerCase(), v] as [string, string]);
      const s = stream();
      if (s) {
        // Deferred until the callback returns (addAfterVmCallAction); grpc_status outside
        // 0..16 means none; whitespace in details becomes '_' (StringUtil::replaceAllEmptySpace).
        const g = grpcStatus | 0;
        self.afterCall.push(() => {
          s.localReply ??= {
            status: u32(status),
            body: bytesStringToUtf8(body),
            headers: pairs,
            details: details.replace(/\s/g, '_'),
            ...(g >= 0 && g <= 16 ? { grpcStatus: g } : {}),
          };
        });
      }
      self.stopNextIteration = true;
      return Status.Ok;
    },
    proxy_clear_route_cache(): number {
      return Status.Ok;
    },

    // -- metrics (Envoy Context::defineMetric / incrementMetric / recordMetric / getMetric)
    proxy_define_metric(type: number, namePtr: number, nameSize: number, idPtr: number): number {
      const name = self.readString(namePtr, nameSize);
      if (name === undefined) return Status.InvalidMemoryAccess;
      if (u32(type) > MetricType.Histogram) return Status.BadArgument;
      let id: number;
      if (type === MetricType.Counter) id = self.nextCounterId += METRIC_ID_INCREMENT;
      else if (type === MetricType.Gauge) id = self.nextGaugeId += METRIC_ID_INCREMENT;
      else id = self.nextHistogramId += METRIC_ID_INCREMENT;
      const full = `${CUSTOM_STAT_NAMESPACE}.${name}`;
      const kind = (['counter', 'gauge', 'histogram'] as const)[type];
      if (!host.shared.metrics.has(full)) host.shared.metrics.set(full, { type: kind, value: 0, samples: [] });
      self.metricNames.set(id, full);
      return self.setWord(idPtr, id) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_increment_metric(id: number, offset: bigint): number {
      const m = metricById(host, self, u32(id));
      const type = u32(id) & METRIC_TYPE_MASK;
      if (type === MetricType.Counter) {
        if (!m) return Status.NotFound;
        if (offset <= 0n) return Status.BadArgument; // counters only go up
        m.value += Number(offset);
        return Status.Ok;
      }
      if (type === MetricType.Gauge) {
        if (!m) return Status.NotFound;
        m.value += Number(offset);
        return Status.Ok;
      }
      return Status.BadArgument;
    },
    proxy_record_metric(id: number, value: bigint): number {
      const m = metricById(host, self, u32(id));
      if (!m) return Status.NotFound;
      const v = Number(BigInt.asUintN(64, value));
      if (m.type === 'counter') m.value += v;
      else if (m.type === 'gauge') m.value = v;
      else {
        m.value += 1;
        if (m.samples.length < 100_000) m.samples.push(v);
      }
      return Status.Ok;
    },
    proxy_get_metric(id: number, resultPtr: number): number {
      const type = u32(id) & METRIC_TYPE_MASK;
      if (type === MetricType.Histogram) return Status.BadArgument;
      const m = metricById(host, self, u32(id));
      if (!m) return Status.NotFound;
      return self.setU64(resultPtr, BigInt(m.value)) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    // -- shared data and queues (cpp-host shared_data.cc / shared_queue.cc; keyed by vm_id,
    //    shared by every worker VM)
    proxy_get_shared_data(keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number, casPtr: number): number {
      const key = self.readString(keyPtr, keySize);
      if (key === undefined) return Status.InvalidMemoryAccess;
      const entry = host.shared.sharedData.get(`${host.vmId}\0${key}`);
      if (!entry) return Status.NotFound;
      if (!self.copyToPointerSize(entry.value, valuePtrPtr, valueSizePtr)) return Status.InvalidMemoryAccess;
      return self.setWord(casPtr, entry.cas) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_set_shared_data(keyPtr: number, keySize: number, valuePtr: number, valueSize: number, cas: number): number {
      const key = self.readString(keyPtr, keySize);
      const value = self.getMemory(valuePtr, valueSize);
      if (key === undefined || !value) return Status.InvalidMemoryAccess;
      const k = `${host.vmId}\0${key}`;
      const entry = host.shared.sharedData.get(k);
      if (u32(cas) !== 0 && entry && u32(cas) !== entry.cas) return Status.CasMismatch;
      host.shared.sharedData.set(k, { value: new Uint8Array(value), cas: host.shared.nextCas++ });
      return Status.Ok;
    },
    proxy_register_shared_queue(namePtr: number, nameSize: number, tokenPtr: number): number {
      const name = self.readString(namePtr, nameSize);
      if (name === undefined) return Status.InvalidMemoryAccess;
      const ctx = self.context();
      const rootId = ctx && ctx.parentId !== 0 ? ctx.parentId : (ctx?.id ?? 0);
      const key = `${host.vmId}\0${name}`;
      // cpp-host posts onQueueReady to the registering VM's thread and root context.
      const notify = () => {
        const root = self.contexts.get(rootId);
        if (root) self.call('proxy_on_queue_ready', root, rootId, q!.token);
      };
      let q = host.shared.queues.get(key);
      if (!q) {
        q = { token: host.shared.nextQueueToken++, items: [], notify };
        host.shared.queues.set(key, q);
        host.shared.queuesByToken.set(q.token, q);
      } else {
        q.notify = notify;
      }
      return self.setWord(tokenPtr, q.token) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_resolve_shared_queue(vmIdPtr: number, vmIdSize: number, namePtr: number, nameSize: number, tokenPtr: number): number {
      const vmId = self.readString(vmIdPtr, vmIdSize);
      const name = self.readString(namePtr, nameSize);
      if (vmId === undefined || name === undefined) return Status.InvalidMemoryAccess;
      const q = host.shared.queues.get(`${vmId || host.vmId}\0${name}`);
      if (!q) return Status.NotFound;
      return self.setWord(tokenPtr, q.token) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_enqueue_shared_queue(token: number, dataPtr: number, dataSize: number): number {
      const data = self.getMemory(dataPtr, dataSize);
      if (!data) return Status.InvalidMemoryAccess;
      const q = host.shared.queuesByToken.get(u32(token));
      if (!q) return Status.NotFound;
      q.items.push(new Uint8Array(data));
      self.afterCall.push(() => q.notify());
      return Status.Ok;
    },
    proxy_dequeue_shared_queue(token: number, ptrPtr: number, sizePtr: number): number {
      const q = host.shared.queuesByToken.get(u32(token));
      if (!q) return Status.NotFound;
      const item = q.items.shift();
      if (!item) return Status.Empty;
      return self.copyToPointerSize(item, ptrPtr, sizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    // -- out-calls: this host has no clusters, which Envoy answers the same way
    proxy_http_call(): number {
      return Status.BadArgument; // Context::httpCall: getThreadLocalCluster(cluster) == nullptr
    },
    proxy_grpc_call(): number {
      return Status.ParseFailure; // not a GrpcService proto and no such cluster
    },
    proxy_grpc_stream(): number {
      return Status.ParseFailure;
    },
    proxy_grpc_cancel(): number {
      return Status.NotFound;
    },
    proxy_grpc_close(): number {
      return Status.NotFound;
    },
    proxy_grpc_send(): number {
      return Status.NotFound;
    },
    proxy_call_foreign_function(namePtr: number, nameSize: number): number {
      const name = self.readString(namePtr, nameSize);
      if (name === undefined) return Status.InvalidMemoryAccess;
      return Status.NotFound; // SIMPLIFIED: Envoy's foreign functions (compress, ...) are not provided
    },

    // -- system
    proxy_set_effective_context(id: number): number {
      if (!self.contexts.has(u32(id))) return Status.BadArgument;
      self.effectiveContextId = u32(id);
      return Status.Ok;
    },
    proxy_done(): number {
      return Status.NotFound; // no root context is pending shutdown
    },
    pthread_equal(a: number, b: number): number {
      return a === b ? 1 : 0;
    },
    emscripten_notify_memory_growth(): void {},
  } as Record<string, (...args: never[]) => unknown>;
}

function metricById(host: EnvHost, vm: Vm, id: number): Metric | undefined {
  const name = vm.metricNames.get(id);
  return name === undefined ? undefined : host.shared.metrics.get(name);
}

// ---- buffers and maps as Envoy's Context exposes them ------------------------------------------

/** Envoy Context::getBuffer. */
function getBuffer(vm: Vm, host: EnvHost, type: number): Uint8Array | undefined {
  switch (type) {
    case BufferType.VmConfiguration:
      return host.vmConfig;
    case BufferType.PluginConfiguration:
      return vm.tempPluginConfig ?? undefined;
    case BufferType.HttpRequestBody: {
      const s = vm.context()?.stream;
      if (!s) return new Uint8Array(0); // buffer_.set(nullptr): an empty buffer
      if (s.bufferingRequestBody) return concat(s.buffered);
      return s.currentChunk ?? new Uint8Array(0);
    }
    case BufferType.HttpResponseBody:
    case BufferType.NetworkDownstreamData:
    case BufferType.NetworkUpstreamData:
    case BufferType.GrpcReceiveBuffer:
      return new Uint8Array(0); // buffer_.set(nullptr)
    case BufferType.CallData:
      return new Uint8Array(0);
    default:
      return undefined; // HttpCallResponseBody without a response
  }
}

/** Envoy Buffer::copyFrom on the request body: prepend, replace all, or append. */
function setBuffer(vm: Vm, type: number, start: number, length: number, data: Uint8Array): number {
  if (type !== BufferType.HttpRequestBody) {
    return type === BufferType.VmConfiguration || type === BufferType.PluginConfiguration ? Status.BadArgument : Status.NotFound;
  }
  const s = vm.context()?.stream;
  if (!s) return Status.NotFound;
  const current = s.bufferingRequestBody ? concat(s.buffered) : (s.currentChunk ?? new Uint8Array(0));
  let next: Uint8Array;
  if (start === 0 && length === 0) next = concat([data, current]);
  else if (start === 0 && length >= current.length) next = data;
  else if (start >= current.length) next = concat([current, data]);
  else return Status.BadArgument;
  if (s.bufferingRequestBody) {
    s.buffered = [next];
    s.bufferedLength = next.length;
  } else {
    s.currentChunk = next;
  }
  return Status.Ok;
}

/** Context::getConstMap (reads). */
function constMap(s: StreamState | undefined, type: number): HeaderMap | null {
  if (!s) return null;
  if (type === MapType.RequestHeaders) return s.headersAvailable ? s.headers : null;
  if (type === MapType.RequestTrailers) return s.trailersAvailable ? s.trailers : null;
  return null;
}

/**
 * Context::getMap (writes): request headers while they are held (request_headers_ non-null),
 * request trailers in the trailers callback, or created on demand from the last body callback
 * (addDecodedTrailers when end_of_stream).
 */
function mutableMap(s: StreamState | undefined, type: number): HeaderMap | null {
  if (!s) return null;
  if (type === MapType.RequestHeaders) return s.headersAvailable ? s.headers : null;
  if (type === MapType.RequestTrailers) {
    if (!s.trailersAvailable && s.inBodyCallback && s.endOfStream && s.trailers === null) {
      s.trailers = new HeaderMap();
      s.trailersAvailable = true;
    }
    return s.trailersAvailable ? s.trailers : null;
  }
  return null;
}

function propertyScope(host: EnvHost, stream: StreamState | undefined): PropertyScope {
  return {
    pluginName: host.pluginName,
    rootId: host.rootId,
    vmId: host.vmId,
    stream: stream && {
      headers: stream.headers,
      routeName: stream.routeName,
      clusterName: stream.clusterName,
      protocol: 'HTTP/1.1',
      connectionId: stream.connectionId,
      filterState: stream.filterState,
      extra: stream.extra,
    },
  };
}
