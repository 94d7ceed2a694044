#!/usr/bin/env node
// Writes docs/errors.md from the error catalogue (epp/src/framework/error-catalogue.ts, built into
// dist/ by `npm run build`). test/epp/framework/error-catalogue.test.ts fails when a code has no
// row of exactly this form, or the page has a code the catalogue lacks: run this after adding or
// changing a code.
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { ERRORS, REPLY_AREAS: replyAreas } = await import(pathToFileURL(join(root, 'dist/epp/src/framework/error-catalogue.js')).href);

const AREAS = [
  ['config', 'EndpointPickerConfig', 'Reported at startup by `tokenroute epp` (exit code 2), every problem at once, each line `CODE field.path: message`.'],
  ['cli', 'Command line', 'Reported by `tokenroute` and its subcommands before anything starts (exit code 2).'],
  ['startup', 'Startup', 'The EPP (or gateway, render server) could not start; the message says which part (exit code 2).'],
  ['request', 'Rejected requests', 'What a client receives from the proxy when the EPP rejects a request: the HTTP status, GIE\'s body `inference error: <GIE code> - <message>`, and the response header `x-tokenroute-error-code: <code>`; the EPP logs the code at debug level.'],
  ['filter', 'Requests the edge filter answers', 'With `onError: reject` in its configuration the edge filter answers a request it cannot read itself, inside Envoy, before the EPP sees it: the HTTP status, an OpenAI-style JSON error body whose `message` starts with the code, the response header `x-tokenroute-error-code: <code>`, and Envoy\'s response code details `tokenroute_<kind>`. With `onError: passthrough` (the default) the request goes on to the EPP with `x-tokenroute-error: <kind>` instead.'],
  ['gateway', 'Development gateway replies', 'Responses `tokenroute gateway` (the local stand-in for Envoy) writes itself: the HTTP status, a text body starting with the code, and `x-tokenroute-error-code: <code>`. In production Envoy writes its own.'],
  ['stream', 'ext_proc stream', 'The proxy broke the ext_proc protocol; the stream ends with a gRPC status, the EPP logs a warning with the code, and the proxy\'s failure mode (FailOpen / FailClose) decides the HTTP outcome.'],
];

const cell = (text) => String(text).replaceAll('|', '\\|');
const REPLY_AREAS = new Set(replyAreas);
let out = `# Error catalogue

Every error a user of tokenroute can see has a stable code (\`TR_ERR_*\`), a meaning and what to do.
Codes are an interface: they are never renamed or reused, so logs and alerts can match on them.
This page is generated from \`epp/src/framework/error-catalogue.ts\` by \`node scripts/gen-errors-doc.mjs\`
(after \`npm run build\`); a test keeps the two equal.
`;
for (const [area, title, intro] of AREAS) {
  const rows = Object.values(ERRORS).filter((e) => e.area === area);
  out += `\n## ${title}\n\n${intro}\n\n`;
  out += REPLY_AREAS.has(area) ? '| code | status | meaning | what to do |\n|---|---|---|---|\n' : '| code | meaning | what to do |\n|---|---|---|\n';
  for (const e of rows) {
    out += REPLY_AREAS.has(area)
      ? `| \`${e.code}\` | ${e.status} | ${cell(e.meaning)} | ${cell(e.fix)} |\n`
      : `| \`${e.code}\` | ${cell(e.meaning)} | ${cell(e.fix)} |\n`;
  }
}
writeFileSync(join(root, 'docs/errors.md'), out);
console.log(`docs/errors.md: ${Object.keys(ERRORS).length} codes`);
