// The wire facts of Qdrant's public gRPC API as the official JS client (@qdrant/js-client-grpc,
// pinned in package-lock.json) embeds them: one FileDescriptorProto per .proto file, decoded by
// protobuf-es from the fileDesc() strings in dist/esm/proto/*_pb.js. Shared by proto_gen.mjs
// (writes proto/*.proto from them) and wire_check.mjs (compares our compiled protos with them).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { isFieldSet } from '@bufbuild/protobuf';
import { FieldDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';

const pkgDir = fileURLToPath(new URL('./node_modules/@qdrant/js-client-grpc/', import.meta.url));
export const clientVersion = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'))).version;

// Every file the client ships. common.proto is a stale copy of qdrant_common.proto (its 21
// messages reuse the same full names, without SliceCondition) that no other file imports: it
// cannot live in one descriptor pool with qdrant_common.proto, so we do not compile it, and
// wire_check.mjs verifies instead that each of its messages matches qdrant_common.proto's.
export const fileStems = ['qdrant', 'collections', 'collections_service', 'points',
  'points_service', 'snapshots_service', 'json_with_int', 'qdrant_common', 'common'];
export const staleFiles = new Set(['common.proto']);

// Map from file name ("points.proto") to its FileDescriptorProto.
export async function loadClientFiles() {
  const files = new Map();
  for (const stem of fileStems) {
    const mod = await import(path.join(pkgDir, 'dist/esm/proto', `${stem}_pb.js`));
    const desc = mod[`file_${stem}`];
    if (!desc) throw new Error(`${stem}_pb.js does not export file_${stem}`);
    files.set(desc.proto.name, desc.proto);
  }
  return files;
}

// Leading comments of every element, from the JSDoc protoc-gen-es wrote into dist/types: keys
// "message qdrant.X", "enum qdrant.X", "value qdrant.E.NAME", "field qdrant.X.7",
// "oneof qdrant.X.name", "service qdrant.S", "rpc qdrant.S.M".
export function loadClientComments(stem) {
  const text = readFileSync(path.join(pkgDir, 'dist/types/proto', `${stem}_pb.d.ts`), 'utf8');
  const comments = new Map();
  let message = '';
  let enumName = '';
  for (const block of text.matchAll(/\/\*\*\n([\s\S]*?)\*\//g)) {
    const lines = block[1].split('\n').map((l) => l.replace(/^\s*\* ?/, '').replace(/\s+$/, ''));
    const at = lines.findIndex((l) => l.startsWith('@generated from '));
    if (at < 0) continue;
    const what = lines[at].slice('@generated from '.length);
    const body = lines.slice(0, at);
    while (body.length && body[body.length - 1] === '') body.pop();
    while (body.length && body[0] === '') body.shift();
    let key;
    let m;
    if ((m = what.match(/^message (\S+)$/))) { message = m[1]; key = `message ${m[1]}`; }
    else if ((m = what.match(/^enum (\S+)$/))) { enumName = m[1]; key = `enum ${m[1]}`; }
    else if ((m = what.match(/^enum value: (\w+) = -?\d+;$/))) key = `value ${enumName}.${m[1]}`;
    else if ((m = what.match(/^field: .* (\w+) = (\d+)( \[.*\])?;$/))) key = `field ${message}.${m[2]}`;
    else if ((m = what.match(/^oneof (\S+)$/))) key = `oneof ${m[1]}`;
    else if ((m = what.match(/^service (\S+)$/))) key = `service ${m[1]}`;
    else if ((m = what.match(/^rpc (\S+)$/))) key = `rpc ${m[1]}`;
    else continue;
    if (body.length) comments.set(key, body);
  }
  return comments;
}

// A proto2 "optional int32 oneof_index" reads 0 when unset: ask whether it is set.
export function oneofIndexOf(field) {
  return isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex) ? field.oneofIndex : undefined;
}
