// Proves proto/*.proto put exactly Qdrant's public gRPC API on the wire: compiles them with
// protoc into a descriptor set and compares it, element by element, with the descriptors the
// official JS client embeds (js_descriptors.mjs). Compared: files and their package, syntax and
// imports; messages (nested ones too), their fields by number (name, label, type, type name,
// oneof membership, proto3 optional, json name, packed), oneofs, map entries, reserved numbers
// and names; enums and their values; services and methods (types, streaming flags). Comments
// and file options are not compared: they do not reach the wire.
// Usage: node wire_check.mjs <protoc> <proto dir>. Exits 0 when equal, 1 listing the first
// differences, 2 on bad usage or a missing tool.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { FieldDescriptorProto_Label as Label, FieldDescriptorProto_Type as Type,
  FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { clientVersion, loadClientFiles, oneofIndexOf, staleFiles } from './js_descriptors.mjs';

const [protoc, protoDir] = process.argv.slice(2);
if (!protoc || !protoDir) {
  console.error('usage: node wire_check.mjs <protoc> <proto dir>');
  process.exit(2);
}

function compileOurs() {
  const protos = readdirSync(protoDir).filter((f) => f.endsWith('.proto')).sort();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wire_check-'));
  const out = path.join(tmp, 'ours.desc');
  try {
    // Qdrant's qdrant.proto imports the three service files without using them; protoc's
    // "Import ... is unused" warnings about that are not news. Anything else it says is shown.
    const run = spawnSync(protoc, [`--proto_path=${protoDir}`, `--descriptor_set_out=${out}`,
      '--include_imports', ...protos], { encoding: 'utf8' });
    const said = `${run.stdout ?? ''}${run.stderr ?? ''}`.split('\n')
      .filter((l) => l && !/warning: Import \S+ is unused\.$/.test(l));
    if (said.length) console.log(said.join('\n'));
    if (run.error || run.status !== 0) {
      console.log(`FAIL: protoc could not compile ${protoDir}: ${run.error ?? `exit ${run.status}`}`);
      process.exit(run.error ? 2 : 1);
    }
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(out));
    return new Map(set.file.map((f) => [f.name, f]));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// The wire-relevant shape of a descriptor as plain objects; diff() walks two of them.
const normEnum = (e) => ({
  allowAlias: Boolean(e.options?.allowAlias),
  values: Object.fromEntries(e.value.map((v) => [v.name, v.number])),
  reserved: e.reservedRange.map((r) => `${r.start}..${r.end}`).join(','),
  reservedNames: e.reservedName.join(','),
});

function normMessage(m) {
  const fields = {};
  for (const f of m.field) {
    const idx = oneofIndexOf(f);
    fields[f.number] = {
      name: f.name,
      label: Label[f.label],
      type: Type[f.type],
      typeName: f.typeName || '',
      oneof: idx === undefined ? '' : m.oneofDecl[idx].name,
      proto3Optional: Boolean(f.proto3Optional),
      jsonName: f.jsonName,
      packed: f.options?.packed === undefined ? 'default' : String(f.options.packed),
    };
  }
  return {
    mapEntry: Boolean(m.options?.mapEntry),
    fields,
    oneofs: m.oneofDecl.map((o) => o.name).join(','),
    messages: Object.fromEntries(m.nestedType.map((n) => [n.name, normMessage(n)])),
    enums: Object.fromEntries(m.enumType.map((e) => [e.name, normEnum(e)])),
    reserved: m.reservedRange.map((r) => `${r.start}..${r.end}`).join(','),
    reservedNames: m.reservedName.join(','),
    extensions: m.extension.length + m.extensionRange.length,
  };
}

const normFile = (f) => ({
  package: f.package,
  syntax: f.syntax,
  imports: [...f.dependency].sort().join(','),
  messages: Object.fromEntries(f.messageType.map((m) => [m.name, normMessage(m)])),
  enums: Object.fromEntries(f.enumType.map((e) => [e.name, normEnum(e)])),
  services: Object.fromEntries(f.service.map((s) => [s.name, Object.fromEntries(s.method.map(
    (r) => [r.name, {
      input: r.inputType, output: r.outputType,
      clientStreaming: Boolean(r.clientStreaming), serverStreaming: Boolean(r.serverStreaming),
    }]))])),
  extensions: f.extension.length,
});

// Appends "path: what differs" lines; `subset` lets ours have elements the client lacks.
function diff(theirs, ours, where, out, subset = false) {
  if (typeof theirs !== 'object' || typeof ours !== 'object') {
    if (theirs !== ours) out.push(`${where}: client has ${JSON.stringify(theirs)}, ours has ${JSON.stringify(ours)}`);
    return;
  }
  for (const k of new Set([...Object.keys(theirs), ...Object.keys(ours)])) {
    const at = `${where} ${k}`;
    const named = (v) => (v && typeof v === 'object' && 'name' in v ? ` (${v.name})` : '');
    if (!(k in ours)) out.push(`${at}${named(theirs[k])}: missing from ours`);
    else if (!(k in theirs)) {
      if (!subset) out.push(`${at}${named(ours[k])}: ours only, not in the client`);
    }
    else diff(theirs[k], ours[k], at, out, subset);
  }
}

const client = await loadClientFiles();
const ours = compileOurs();
const problems = [];
for (const [name, file] of client) {
  if (staleFiles.has(name)) continue;
  if (!ours.has(name)) { problems.push(`${name}: missing from ${protoDir}`); continue; }
  diff(normFile(file), normFile(ours.get(name)), name, problems);
}
// Our own services (admin, p2p) must stay out of Qdrant's package, or clients could meet types
// Qdrant does not have.
for (const [name, file] of ours) {
  if (!client.has(name) && file.package === 'qdrant') {
    problems.push(`${name}: declares package qdrant but is not one of Qdrant's files`);
  }
}
// The stale common.proto the client also ships must agree with qdrant_common.proto on every
// field it has, so code built on either encodes the same bytes.
for (const name of staleFiles) {
  const stale = normFile(client.get(name));
  const current = normFile(ours.get('qdrant_common.proto'));
  for (const [msg, m] of Object.entries(stale.messages)) {
    if (!current.messages[msg]) problems.push(`${name} ${msg}: missing from qdrant_common.proto`);
    else diff(m, current.messages[msg], `${name} vs qdrant_common.proto ${msg}`, problems, true);
  }
}

const count = (files, key) => [...files.values()].reduce((n, f) => n + f[key].length, 0);
if (problems.length) {
  console.log(`FAIL: ${problems.length} difference(s) between proto/ and @qdrant/js-client-grpc ${clientVersion}:`);
  for (const p of problems.slice(0, 30)) console.log(`  ${p}`);
  if (problems.length > 30) console.log(`  ... and ${problems.length - 30} more`);
  process.exit(1);
}
const mine = new Map([...ours].filter(([n]) => client.has(n)));
console.log(`ok: ${mine.size} files, ${count(mine, 'messageType')} top-level messages, ` +
  `${count(mine, 'enumType')} top-level enums, ${count(mine, 'service')} services match ` +
  `@qdrant/js-client-grpc ${clientVersion}`);
