// The gRPC client of Envoy's ext_proc service, built from Envoy's own protos (the same loader the
// EPP's server uses, so field numbers and oneofs match the proxy's): one Process() bidi stream per
// request, as Envoy's ext_proc filter opens them (Envoy `source/extensions/filters/http/ext_proc/
// client_impl.cc` at v1.35). The gateway drives its streams with ExtProcCall (call.ts); tests
// drive theirs with test/gateway/extproc/driver.ts.
import * as grpc from '@grpc/grpc-js';
import { loadExtProcPackage, type ProcessingRequest, type ProcessingResponse } from '../../epp/src/protocol/index.js';

export type ExtProcClient = grpc.Client & {
  Process(metadata?: grpc.Metadata): grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
};

export function newExtProcClient(address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): ExtProcClient {
  const pkg = grpc.loadPackageDefinition(loadExtProcPackage()) as unknown as {
    envoy: { service: { ext_proc: { v3: { ExternalProcessor: grpc.ServiceClientConstructor } } } };
  };
  const Ctor = pkg.envoy.service.ext_proc.v3.ExternalProcessor;
  return new Ctor(address, creds, options) as unknown as ExtProcClient;
}
