// Qdrant's official JS clients against a live qdrantd: the service endpoints that exist today.
// Usage: node service.mjs <rest url> <grpc url>. Prints one line per check; exits 1 on the
// first mismatch. The clients are the compatibility contract: if they parse our answers, real
// users' code will too.
import assert from 'node:assert/strict';
import { QdrantClient as RestClient } from '@qdrant/js-client-rest';
import { QdrantClient as GrpcClient } from '@qdrant/js-client-grpc';
import { check } from './check.mjs';

const [restUrl, grpcUrl] = process.argv.slice(2);
assert.ok(restUrl && grpcUrl, 'usage: node service.mjs <rest url> <grpc url>');

await check('REST versionInfo() returns title, version and a 40-character commit', async () => {
  const rest = new RestClient({ url: restUrl, checkCompatibility: false });
  const info = await rest.versionInfo();
  assert.deepEqual(Object.keys(info).sort(), ['commit', 'title', 'version']);
  assert.equal(info.title, 'qdrant - vector search engine');
  assert.match(info.version, /^1\.19\.\d+$/);
  assert.match(info.commit, /^[0-9a-f]{40}$/);
});

await check('REST client compatibility check accepts the server version', async () => {
  const rest = new RestClient({ url: restUrl });
  const warnings = [];
  const original = console.warn;
  console.warn = (...args) => warnings.push(args.join(' '));
  try {
    await rest.versionInfo();
    await new Promise((resolve) => setTimeout(resolve, 200));  // the check runs in the background
  } finally {
    console.warn = original;
  }
  assert.deepEqual(warnings, []);
});

await check('gRPC qdrant.Qdrant/HealthCheck over the official gRPC client', async () => {
  const grpc = new GrpcClient({ url: grpcUrl, checkCompatibility: false });
  const reply = await grpc.api('service').healthCheck({});
  assert.equal(reply.title, 'qdrant - vector search engine');
  assert.match(reply.version, /^1\.19\.\d+$/);
  assert.match(reply.commit ?? '', /^[0-9a-f]{40}$/);
});

await check('gRPC client compatibility check accepts the server version', async () => {
  const warnings = [];
  const original = console.warn;
  console.warn = (...args) => warnings.push(args.join(' '));
  try {
    const grpc = new GrpcClient({ url: grpcUrl });
    await grpc.api('service').healthCheck({});
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    console.warn = original;
  }
  assert.deepEqual(warnings, []);
});
