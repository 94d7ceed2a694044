// Skip-when-unchanged for the wasm builds: a build is redone only when one of its inputs (the
// AssemblyScript sources, these build tools, the host modules the filter build checks against,
// asconfig.json, the lockfile that pins AssemblyScript and the tokenizer data) or its arguments
// changed since the output was written. The digest sits next to the output as `<out>.inputs`.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const INPUTS = ['filter/assembly', 'filter/tools', 'filter/host', 'asconfig.json', 'package-lock.json'];

function files(root, rel, out) {
  const p = join(root, rel);
  if (!existsSync(p)) return out;
  if (statSync(p).isDirectory()) {
    for (const name of readdirSync(p).sort()) files(root, join(rel, name), out);
  } else {
    out.push(rel);
  }
  return out;
}

function digest(root, args) {
  const h = createHash('sha256').update(JSON.stringify(args));
  for (const rel of INPUTS.flatMap((i) => files(root, i, []))) h.update(relative(root, join(root, rel))).update(readFileSync(join(root, rel)));
  return h.digest('hex');
}

/** True when `out` exists and was built from exactly these inputs and arguments. */
export function upToDate(root, out, args) {
  if (process.env.TOKENROUTE_FORCE_BUILD === '1' || !existsSync(out) || !existsSync(`${out}.inputs`)) return false;
  return readFileSync(`${out}.inputs`, 'utf8') === digest(root, args);
}

/** Records the inputs `out` was just built from. */
export function stamp(root, out, args) {
  writeFileSync(`${out}.inputs`, digest(root, args));
}
