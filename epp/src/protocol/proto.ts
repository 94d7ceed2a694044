// Loads Envoy's real ext_proc v3 .proto files (fetched into .cache/envoy-api by
// scripts/fetch-envoy-protos.mjs) with @grpc/proto-loader, once per process. Using the upstream
// definitions rather than a hand-copied subset is what guarantees wire compatibility with Envoy:
// field numbers, oneofs and enums come from the same source the proxy is built from.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { EXT_PROC_SERVICE_NAME } from './keys.js';

export const EXT_PROC_PROTO_FILE = 'envoy/service/ext_proc/v3/external_processor.proto';

/** Environment variable that points at an alternative Envoy API proto root. */
export const ENVOY_PROTO_DIR_ENV = 'TOKENROUTE_ENVOY_PROTO_DIR';

/**
 * proto-loader options. keepCase keeps Envoy's snake_case names (so our code reads like the
 * proto); longs/enums as strings avoid Long objects and magic numbers; defaults:false keeps
 * decoded messages small on the hot path (absent = default); oneofs adds the discriminators.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

/**
 * Finds the directory of tokenroute's package.json by walking up from `fromUrl`, so the same code
 * works from epp/src (tsx), dist/ and any dist-something build alike.
 */
export function findPackageRoot(fromUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(fromUrl));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'tokenroute') return dir;
      } catch {
        // An unreadable package.json on the way up is not ours; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`tokenroute package root not found above ${fileURLToPath(fromUrl)}`);
    dir = parent;
  }
}

/** Where Envoy's API protos are: $TOKENROUTE_ENVOY_PROTO_DIR, else <package root>/.cache/envoy-api. */
export function envoyProtoDir(): string {
  const override = process.env[ENVOY_PROTO_DIR_ENV];
  if (override) return override;
  return join(findPackageRoot(), '.cache', 'envoy-api');
}

let cached: { dir: string; def: protoLoader.PackageDefinition } | undefined;

/** The loaded package definition (memoized per proto directory). */
export function loadExtProcPackage(): protoLoader.PackageDefinition {
  const dir = envoyProtoDir();
  if (cached && cached.dir === dir) return cached.def;
  if (!existsSync(join(dir, EXT_PROC_PROTO_FILE))) {
    throw new Error(
      `Envoy ext_proc protos not found in ${dir}: run 'node scripts/fetch-envoy-protos.mjs' ` +
        `or set ${ENVOY_PROTO_DIR_ENV} to a directory containing ${EXT_PROC_PROTO_FILE}`,
    );
  }
  const def = protoLoader.loadSync(EXT_PROC_PROTO_FILE, { ...PROTO_LOADER_OPTIONS, includeDirs: [dir] });
  cached = { dir, def };
  return def;
}

/** The ExternalProcessor service definition, for Server.addService and client constructors. */
export function extProcServiceDefinition(): ServiceDefinition {
  return loadExtProcPackage()[EXT_PROC_SERVICE_NAME] as ServiceDefinition;
}

let statusNames: Map<string, number> | undefined;

/**
 * Maps an envoy.type.v3.StatusCode as decoded (enum name such as `TooManyRequests`, or a number)
 * to its HTTP status number. Read from the loaded enum so it can never drift from Envoy's names.
 */
export function httpStatusNumber(code: string | number): number {
  if (typeof code === 'number') return code;
  if (!statusNames) {
    statusNames = new Map();
    const enumDef = loadExtProcPackage()['envoy.type.v3.StatusCode'] as
      | { type?: { value?: { name: string; number: number }[] } }
      | undefined;
    for (const v of enumDef?.type?.value ?? []) statusNames.set(v.name, v.number);
  }
  const n = statusNames.get(code);
  if (n === undefined) {
    const parsed = Number(code);
    if (Number.isInteger(parsed)) return parsed;
    throw new Error(`unknown envoy.type.v3.StatusCode ${code}`);
  }
  return n;
}
