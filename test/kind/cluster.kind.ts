// The shared gateway specs against a kind cluster, run by e2e/kind/run.sh (with
// e2e/kind/vitest.config.ts) after it installed the gateway, the simulator pool and tokenroute.
// The deployment is driven with kubectl: the EPP is scaled to zero and back, a model-server pod is
// deleted. Not part of `npm test` (the file name does not end in .test.ts).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { defineGatewaySpecs } from '../e2e/specs/gateway-specs.js';

const run = promisify(execFile);
const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run e2e/kind/run.sh`);
  return v;
};
const url = env('TOKENROUTE_KIND_GATEWAY_URL');
const ns = env('TOKENROUTE_KIND_NAMESPACE');
const epp = env('TOKENROUTE_KIND_EPP');

async function kubectl(...args: string[]): Promise<string> {
  return (await run('kubectl', ['-n', ns, ...args], { timeout: 300_000 })).stdout;
}

/** Ready simulator pods: name → IP. */
async function sims(): Promise<Map<string, string>> {
  const out = JSON.parse(await kubectl('get', 'pods', '-l', 'app=kind-sim', '-o', 'json')) as {
    items: { metadata: { name: string; deletionTimestamp?: string }; status: { podIP?: string; conditions?: { type: string; status: string }[] } }[];
  };
  const ready = out.items.filter((p) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  return new Map(ready.map((p) => [p.metadata.name, p.status.podIP ?? '']));
}

defineGatewaySpecs(
  () => ({
    url,
    servers: async () => [...(await sims()).keys()],
    addressOf: async (server) => `${(await sims()).get(server)}:8000`,
    async stopEpp() {
      await kubectl('scale', `deploy/${epp}`, '--replicas=0');
      await kubectl('wait', '--for=delete', 'pod', '-l', 'app.kubernetes.io/name=tokenroute-epp', '--timeout=120s');
    },
    async startEpp() {
      await kubectl('scale', `deploy/${epp}`, '--replicas=1');
      await kubectl('rollout', 'status', `deploy/${epp}`, '--timeout=180s');
    },
    async removeServer(server) {
      await kubectl('delete', 'pod', server, '--wait=true', '--timeout=120s');
    },
  }),
  { label: `kind, ${url}` },
);
