// Writes proto/*.proto from the descriptors the official JS client embeds (js_descriptors.mjs),
// with the comments protoc-gen-es kept in its .d.ts files. A dev tool: the .proto files in
// proto/ are the source of truth and are reviewed like code; rerun this when the pinned client
// moves to a new Qdrant release and read the diff. wire_check.mjs proves the result matches.
// Usage: node proto_gen.mjs <output dir>
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FieldDescriptorProto_Label as Label, FieldDescriptorProto_Type as Type }
  from '@bufbuild/protobuf/wkt';
import { clientVersion, loadClientComments, loadClientFiles, oneofIndexOf, staleFiles }
  from './js_descriptors.mjs';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: node proto_gen.mjs <output dir>');
  process.exit(2);
}

const scalarNames = {
  [Type.DOUBLE]: 'double', [Type.FLOAT]: 'float', [Type.INT64]: 'int64', [Type.UINT64]: 'uint64',
  [Type.INT32]: 'int32', [Type.FIXED64]: 'fixed64', [Type.FIXED32]: 'fixed32', [Type.BOOL]: 'bool',
  [Type.STRING]: 'string', [Type.BYTES]: 'bytes', [Type.UINT32]: 'uint32',
  [Type.SFIXED32]: 'sfixed32', [Type.SFIXED64]: 'sfixed64', [Type.SINT32]: 'sint32',
  [Type.SINT64]: 'sint64',
};

// protoc's default json_name (descriptor.cc ToJsonName).
function jsonNameOf(name) {
  let out = '';
  let upper = false;
  for (const c of name) {
    if (c === '_') { upper = true; continue; }
    out += upper ? c.toUpperCase() : c;
    upper = false;
  }
  return out;
}

function typeRef(field, pkg) {
  if (field.type === Type.MESSAGE || field.type === Type.ENUM) {
    // ".qdrant.Foo.Bar" -> "Foo.Bar" inside package qdrant; other packages keep the full name.
    const name = field.typeName.replace(/^\./, '');
    return name.startsWith(`${pkg}.`) ? name.slice(pkg.length + 1) : name;
  }
  const scalar = scalarNames[field.type];
  if (!scalar) throw new Error(`unsupported field type ${field.type} for ${field.name}`);
  return scalar;
}

// Only the options Qdrant's files use; anything else is an error so nothing is lost silently.
function fieldOptions(field) {
  const opts = [];
  const o = field.options;
  if (o) {
    const { $typeName, uninterpretedOption, deprecated, packed, ...rest } = o;
    if (Object.keys(rest).some((k) => rest[k] !== undefined && rest[k] !== false && rest[k] !== 0 &&
        !(Array.isArray(rest[k]) && rest[k].length === 0))) {
      throw new Error(`unsupported field options on ${field.name}: ${JSON.stringify(rest)}`);
    }
    if (deprecated) opts.push('deprecated = true');
    if (packed !== undefined && packed !== false) opts.push(`packed = ${packed}`);
  }
  if (field.jsonName && field.jsonName !== jsonNameOf(field.name)) {
    opts.push(`json_name = "${field.jsonName}"`);
  }
  return opts.length ? ` [${opts.join(', ')}]` : '';
}

class Writer {
  constructor(comments) { this.lines = []; this.comments = comments; }
  line(depth, text) { this.lines.push(text === '' ? '' : '  '.repeat(depth) + text); }
  comment(depth, key) {
    for (const l of this.comments.get(key) ?? []) this.line(depth, l ? `// ${l}` : '//');
  }
}

function writeEnum(w, e, fullName, depth) {
  w.comment(depth, `enum ${fullName}`);
  w.line(depth, `enum ${e.name} {`);
  if (e.options?.allowAlias) w.line(depth + 1, 'option allow_alias = true;');
  if (e.options?.deprecated) w.line(depth + 1, 'option deprecated = true;');
  for (const v of e.value) {
    w.comment(depth + 1, `value ${fullName}.${v.name}`);
    const dep = v.options?.deprecated ? ' [deprecated = true]' : '';
    w.line(depth + 1, `${v.name} = ${v.number}${dep};`);
  }
  w.line(depth, '}');
}

function writeField(w, f, msgFull, pkg, mapEntries, depth, inOneof) {
  w.comment(depth, `field ${msgFull}.${f.number}`);
  let decl;
  const entry = f.type === Type.MESSAGE ? mapEntries.get(f.typeName) : undefined;
  if (entry && f.label === Label.REPEATED) {
    const [k, v] = entry.field;
    decl = `map<${typeRef(k, pkg)}, ${typeRef(v, pkg)}> ${f.name} = ${f.number}`;
  } else {
    let label = '';
    if (f.label === Label.REPEATED) label = 'repeated ';
    else if (f.proto3Optional) label = 'optional ';
    else if (f.label === Label.REQUIRED) throw new Error(`required field ${f.name} in proto3`);
    if (inOneof && label) throw new Error(`labelled field ${f.name} inside a oneof`);
    decl = `${label}${typeRef(f, pkg)} ${f.name} = ${f.number}`;
  }
  w.line(depth, `${decl}${fieldOptions(f)};`);
}

function writeMessage(w, m, fullName, pkg, depth) {
  // Map entries are nested messages with map_entry set; they print as map<K, V> fields.
  const mapEntries = new Map();
  for (const n of m.nestedType) {
    if (n.options?.mapEntry) mapEntries.set(`.${fullName}.${n.name}`, n);
  }
  w.comment(depth, `message ${fullName}`);
  w.line(depth, `message ${m.name} {`);
  if (m.options?.deprecated) w.line(depth + 1, 'option deprecated = true;');
  for (const e of m.enumType) writeEnum(w, e, `${fullName}.${e.name}`, depth + 1);
  for (const n of m.nestedType) {
    if (!n.options?.mapEntry) writeMessage(w, n, `${fullName}.${n.name}`, pkg, depth + 1);
  }
  const written = new Set();
  for (const f of m.field) {
    const idx = oneofIndexOf(f);
    if (idx === undefined || f.proto3Optional) {
      writeField(w, f, fullName, pkg, mapEntries, depth + 1, false);
      continue;
    }
    // A real oneof: print the whole group where its first member appears.
    if (written.has(idx)) continue;
    written.add(idx);
    const oneof = m.oneofDecl[idx];
    w.comment(depth + 1, `oneof ${fullName}.${oneof.name}`);
    w.line(depth + 1, `oneof ${oneof.name} {`);
    for (const g of m.field) {
      if (oneofIndexOf(g) === idx && !g.proto3Optional) {
        writeField(w, g, fullName, pkg, mapEntries, depth + 2, true);
      }
    }
    w.line(depth + 1, '}');
  }
  if (m.reservedRange.length) {
    const ranges = m.reservedRange.map((r) => (r.start === r.end - 1 ? `${r.start}` : `${r.start} to ${r.end - 1}`));
    w.line(depth + 1, `reserved ${ranges.join(', ')};`);
  }
  if (m.reservedName.length) {
    w.line(depth + 1, `reserved ${m.reservedName.map((n) => `"${n}"`).join(', ')};`);
  }
  if (m.extensionRange.length || m.extension.length) throw new Error(`extensions in ${fullName}`);
  // An empty message closes on its own line's brace: "message HealthCheckRequest {}".
  if (w.lines.at(-1) === `${'  '.repeat(depth)}message ${m.name} {`) w.lines[w.lines.length - 1] += '}';
  else w.line(depth, '}');
}

function writeService(w, s, pkg) {
  const full = `${pkg}.${s.name}`;
  w.comment(0, `service ${full}`);
  w.line(0, `service ${s.name} {`);
  for (const r of s.method) {
    w.comment(1, `rpc ${full}.${r.name}`);
    const inT = r.inputType.replace(`.${pkg}.`, '');
    const outT = r.outputType.replace(`.${pkg}.`, '');
    const cs = r.clientStreaming ? 'stream ' : '';
    const ss = r.serverStreaming ? 'stream ' : '';
    const dep = r.options?.deprecated ? ' option deprecated = true; ' : '';
    w.line(1, `rpc ${r.name}(${cs}${inT}) returns (${ss}${outT}) {${dep}}`);
  }
  w.line(0, '}');
}

function writeFile(file) {
  const stem = file.name.replace(/\.proto$/, '');
  const w = new Writer(loadClientComments(stem));
  const pkg = file.package;
  const release = clientVersion.replace(/\.\d+$/, '');
  w.line(0, `// ${file.name}, package ${pkg}: Qdrant ${release}'s public gRPC API as it goes on the wire.`);
  w.line(0, `// Written by tests/compat/proto_gen.mjs from the descriptor @qdrant/js-client-grpc ${clientVersion}`);
  w.line(0, '// embeds, with the comments it carries. tests/compat/wire_check.mjs (ctest proto_wire_check)');
  w.line(0, '// fails on any difference in names, numbers, types, labels, oneofs, enum values or methods.');
  if (file.syntax !== 'proto3') throw new Error(`${file.name}: syntax ${file.syntax}`);
  w.line(0, 'syntax = "proto3";');
  w.line(0, '');
  w.line(0, `package ${pkg};`);
  w.line(0, '');
  for (const d of file.dependency) w.line(0, `import "${d}";`);
  if (file.dependency.length) w.line(0, '');
  const o = file.options;
  if (o?.csharpNamespace) w.line(0, `option csharp_namespace = "${o.csharpNamespace}";`);
  if (o?.javaOuterClassname) w.line(0, `option java_outer_classname = "${o.javaOuterClassname}";`);
  if (o?.javaPackage) w.line(0, `option java_package = "${o.javaPackage}";`);
  if (o?.goPackage) w.line(0, `option go_package = "${o.goPackage}";`);
  if (o?.javaMultipleFiles) w.line(0, 'option java_multiple_files = true;');
  w.line(0, '');
  for (const e of file.enumType) { writeEnum(w, e, `${pkg}.${e.name}`, 0); w.line(0, ''); }
  for (const m of file.messageType) { writeMessage(w, m, `${pkg}.${m.name}`, pkg, 0); w.line(0, ''); }
  for (const s of file.service) { writeService(w, s, pkg); w.line(0, ''); }
  while (w.lines.at(-1) === '') w.lines.pop();
  return `${w.lines.join('\n')}\n`;
}

mkdirSync(outDir, { recursive: true });
for (const [name, file] of await loadClientFiles()) {
  if (staleFiles.has(name)) continue;
  writeFileSync(path.join(outDir, name), writeFile(file));
  console.log(`wrote ${path.join(outDir, name)}`);
}
