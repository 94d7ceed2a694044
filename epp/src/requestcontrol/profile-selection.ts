// Which scheduling profile a request uses, chosen by the route it came through — never by the
// client. Two gateway-side sources, both out of a client's reach:
//  1. gRPC initial metadata `x-tokenroute-profile`, which Envoy sets per route through
//     ExtProcPerRoute.overrides.grpc_initial_metadata (the client never sees the ext_proc stream);
//  2. the ext_proc attribute `xds.route_name` (request_attributes: ["xds.route_name"]), mapped to
//     a profile by the config's `profileSelection.routes`.
// Anything else (unknown names) falls through to the profile handler's default.
import type { RequestInput } from '../framework/request-controller.js';

export const PROFILE_METADATA_KEY = 'x-tokenroute-profile';
export const ROUTE_NAME_ATTRIBUTE = 'xds.route_name';

export interface ProfileSelectionConfig {
  readonly routes: ReadonlyMap<string, string>;
  readonly profiles: ReadonlySet<string>;
}

export function profileSelector(cfg: ProfileSelectionConfig): (input: RequestInput) => string | undefined {
  return (input) => {
    const named = input.grpcMetadata.get(PROFILE_METADATA_KEY);
    if (named !== undefined && cfg.profiles.has(named)) return named;
    const route = input.attributes.get(ROUTE_NAME_ATTRIBUTE);
    if (typeof route === 'string') {
      const profile = cfg.routes.get(route);
      if (profile !== undefined) return profile;
    }
    return undefined;
  };
}
