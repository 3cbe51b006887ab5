// Qdrant's official JS clients with their `apiKey` option against a qdrantd started with
// service.api_key and service.read_only_api_key (issue #19): the full key reads and writes, the
// read-only key reads and is refused writes (403 / PERMISSION_DENIED), no key is refused
// (401 / UNAUTHENTICATED). Usage: node auth.mjs <rest url> <grpc url> <api key> <read-only key>.
// Prints one line per check; exits 1 on the first mismatch.
import assert from 'node:assert/strict';
import { QdrantClient as RestClient } from '@qdrant/js-client-rest';
import { QdrantClient as GrpcClient } from '@qdrant/js-client-grpc';
import { check } from './check.mjs';

const [restUrl, grpcUrl, apiKey, readOnlyKey] = process.argv.slice(2);
assert.ok(restUrl && grpcUrl && apiKey && readOnlyKey,
  'usage: node auth.mjs <rest url> <grpc url> <api key> <read-only key>');

// The clients warn that a key goes over plain http; the test servers have no TLS.
const warn = console.warn;
console.warn = (...args) => {
  if (!String(args[0]).startsWith('Api key is used with unsecure connection')) warn(...args);
};

const rest = (key) => new RestClient({ url: restUrl, apiKey: key, checkCompatibility: false });
const grpc = (key) => new GrpcClient({ url: grpcUrl, apiKey: key, checkCompatibility: false });
const collection = 'auth_js';
const point = { id: 1, vector: [1, 0] };

await check('REST with the API key creates a collection and writes to it', async () => {
  const client = rest(apiKey);
  assert.equal(await client.createCollection(collection, { vectors: { size: 2, distance: 'Dot' } }), true);
  const r = await client.upsert(collection, { wait: true, points: [point] });
  assert.equal(r.status, 'completed');
});

await check('REST with the read-only key reads', async () => {
  const r = await rest(readOnlyKey).query(collection, { query: [1, 0], limit: 1 });
  assert.equal(r.points.length, 1);
});

await check('REST with the read-only key is refused a write with 403', async () => {
  await assert.rejects(rest(readOnlyKey).upsert(collection, { wait: true, points: [point] }),
    (e) => e.status === 403);
});

await check('REST without a key is refused with 401', async () => {
  await assert.rejects(rest(undefined).getCollections(), (e) => e.status === 401);
});

await check('gRPC with the API key and the read-only key lists collections', async () => {
  for (const key of [apiKey, readOnlyKey]) {
    const list = await grpc(key).api('collections').list({});
    assert.ok(list.collections.some((c) => c.name === collection));
  }
});

await check('gRPC with the read-only key is refused a write with PERMISSION_DENIED', async () => {
  await assert.rejects(grpc(readOnlyKey).api('points').upsert({
    collectionName: collection, wait: true,
    points: [{ id: { pointIdOptions: { case: 'num', value: 2n } },
      vectors: { vectorsOptions: { case: 'vector', value: { vector: { case: 'dense', value: { data: [0, 1] } } } } } }],
  }), (e) => e.code === 7 /* PermissionDenied */);
});

await check('gRPC without a key is refused with UNAUTHENTICATED', async () => {
  await assert.rejects(grpc(undefined).api('collections').list({}), (e) => e.code === 16 /* Unauthenticated */);
});

await check('gRPC with the API key deletes the collection', async () => {
  const r = await grpc(apiKey).api('collections').delete({ collectionName: collection });
  assert.equal(r.result, true);
});
