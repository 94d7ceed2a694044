// Resolving a decider plugin named in a profile handler's parameters (ReferencingPlugin).
import { isDisaggDecider, type DisaggDecider, type ReferenceIssue, type ReferenceLookup } from '../../framework/plugins.js';

export function resolveDecider(
  lookup: ReferenceLookup,
  name: string | undefined,
  path: readonly (string | number)[],
): { decider: DisaggDecider | undefined } | { issue: ReferenceIssue } {
  if (name === undefined) return { decider: undefined };
  const p = lookup.plugin(name);
  if (!p) return { issue: { path, kind: 'undefined', name, message: `decider plugin ${JSON.stringify(name)} is not declared in plugins` } };
  if (!isDisaggDecider(p)) return { issue: { path, kind: 'wrong-kind', message: `plugin ${JSON.stringify(name)} (type ${p.type}) is not a decider` } };
  return { decider: p };
}
