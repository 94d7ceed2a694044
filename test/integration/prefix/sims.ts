// Integration helper: real llm-d-inference-sim processes that tokenize through tokenroute's
// render endpoint, each on its own 127.0.x.y address with its own POD_IP. The implementation
// (and how the simulator is made to use --render-url offline) lives in e2e/lib/sims.ts, shared
// with the local stack (demo) and the e2e tests.
export {
  SIM_MODEL,
  complete,
  freePort,
  simBinary,
  startHubStub,
  startSim,
  waitFor,
  type HubStub,
  type Sim,
  type SimOptions,
} from '../../../e2e/lib/sims.js';
