#!/usr/bin/env node
// Brings Envoy's real .proto definitions (ext_proc v3 and everything it imports) into
// .cache/envoy-api/, from the Envoy control-plane API jar on Maven Central, fetched with
// Maven's own client. Why that jar: it is the maintained registry package that ships the
// .proto sources with FULL_DUPLEX_STREAMED and StreamedBodyResponse; the envoy-api tree
// inside @grpc/grpc-js-xds predates both. Idempotent: a complete cache is reused. Without Maven
// (an image build), the jar is downloaded from Maven Central directly and checked against the
// SHA-1 the repository publishes beside it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ENVOY_API_ARTIFACT = { group: 'io.envoyproxy.controlplane', artifact: 'api', version: '1.0.49' };

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dest = join(root, '.cache', 'envoy-api');
const stamp = join(dest, '.artifact');
const wanted = `${ENVOY_API_ARTIFACT.group}:${ENVOY_API_ARTIFACT.artifact}:${ENVOY_API_ARTIFACT.version}`;
const entry = 'envoy/service/ext_proc/v3/external_processor.proto';

if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted && existsSync(join(dest, entry))) process.exit(0);

const repo = process.env.MAVEN_REPO_LOCAL ?? join(homedir(), '.m2', 'repository');
const jar = join(repo, ...ENVOY_API_ARTIFACT.group.split('.'), ENVOY_API_ARTIFACT.artifact,
  ENVOY_API_ARTIFACT.version, `${ENVOY_API_ARTIFACT.artifact}-${ENVOY_API_ARTIFACT.version}.jar`);
const hasMaven = () => {
  try {
    execFileSync('mvn', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
if (!existsSync(jar) && !hasMaven()) {
  const url = `https://repo1.maven.org/maven2/${ENVOY_API_ARTIFACT.group.replaceAll('.', '/')}/${ENVOY_API_ARTIFACT.artifact}/${ENVOY_API_ARTIFACT.version}/${ENVOY_API_ARTIFACT.artifact}-${ENVOY_API_ARTIFACT.version}.jar`;
  console.log(`fetch-envoy-protos: no Maven here; downloading ${url}`);
  const [body, sha1] = await Promise.all([fetch(url), fetch(`${url}.sha1`)].map(async (p) => {
    const r = await p;
    if (!r.ok) throw new Error(`${r.url}: HTTP ${r.status}`);
    return Buffer.from(await r.arrayBuffer());
  }));
  const got = createHash('sha1').update(body).digest('hex');
  if (got !== sha1.toString('utf8').trim().split(/\s+/)[0]) {
    console.error(`fetch-envoy-protos: checksum mismatch for ${url} (got ${got})`);
    process.exit(1);
  }
  mkdirSync(dirname(jar), { recursive: true });
  writeFileSync(jar, body);
}
if (!existsSync(jar)) {
  try {
    execFileSync('mvn', ['-q', '-B', 'dependency:get', `-Dartifact=${wanted}`, '-Dtransitive=false'], { stdio: 'inherit' });
  } catch (err) {
    console.error(`fetch-envoy-protos: could not fetch ${wanted} with Maven (is 'mvn' installed?): ${err.message}`);
    process.exit(1);
  }
}
mkdirSync(dest, { recursive: true });
// Only .proto sources: the jar's compiled Java classes are of no use to us.
execFileSync('unzip', ['-q', '-o', jar, '*.proto', '-d', dest], { stdio: 'inherit' });
if (!existsSync(join(dest, entry))) {
  console.error(`fetch-envoy-protos: ${entry} missing from ${jar}`);
  process.exit(1);
}
writeFileSync(stamp, wanted);
console.log(`fetch-envoy-protos: Envoy API protos from ${wanted} in ${dest}`);
