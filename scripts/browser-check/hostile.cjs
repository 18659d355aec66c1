// Writes the crafted snapshot of tests/fixtures/hostile/names.json: the
// bundled demo with each `find` replaced by `replace` in every string (keys
// included), an S3 source with the hostile object key and a scope error
// with the hostile message, as tests/support/hostile.rs builds it for the
// Rust tests. Run by scripts/browser-check.sh:
//
//   node hostile.cjs NAMES.json DEMO.json OUT.json
'use strict';
const fs = require('fs');

const [namesFile, demoFile, outFile] = process.argv.slice(2);
const fixture = JSON.parse(fs.readFileSync(namesFile, 'utf8'));
const subs = fixture.substitutions.map((s) => [s.find, s.replace]);
const apply = (s) => subs.reduce((acc, [find, replace]) => acc.split(find).join(replace), s);
function substitute(v) {
  if (typeof v === 'string') return apply(v);
  if (Array.isArray(v)) return v.map(substitute);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, item] of Object.entries(v)) out[apply(k)] = substitute(item);
    return out;
  }
  return v;
}
const snap = substitute(JSON.parse(fs.readFileSync(demoFile, 'utf8')));
const s3 = fixture.s3_source;
const w = snap.pipelines.find((p) => p.name === s3.pipeline);
if (w) {
  w.s3_sources = [{
    stage: 'Source',
    action: 'Source',
    region: 'us-east-1',
    bucket: s3.bucket,
    bucket_arn: `arn:aws:s3:::${s3.bucket}`,
    object_key: s3.object_key,
    poll_for_source_changes: true,
  }];
}
const e = fixture.scope_error;
snap.scope_errors.push({
  region: e.region,
  scope: e.scope,
  error: { kind: 'access_denied', action: 'codepipeline:ListPipelines', code: 'AccessDeniedException', message: e.message },
});
fs.writeFileSync(outFile, JSON.stringify(snap, null, 1));
