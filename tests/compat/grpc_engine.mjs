// Issue #4, item 4: the engine behind qdrantd's public gRPC API, driven through Qdrant's
// official JS client (@qdrant/js-client-grpc). Creates a collection with two named vectors,
// upserts 1,000 points with payloads, creates payload indexes, then checks search with and
// without filters, query (by vector and by point id), scroll (by id and with order_by), count,
// get, delete by filter and collection cluster info against answers this script computes itself
// (brute-force nearest neighbours over the same vectors, filters evaluated in JS). Run against a
// live qdrantd by tests/integration/grpc_engine_test.cc, with 1 and 2 shards.
//
// Usage: node grpc_engine.mjs <grpc url> [shard_number]   e.g. http://127.0.0.1:6334 2
// Prints one line per check; exits 1 on the first failure, 2 on bad usage. The collection it
// creates (grpc_engine_<pid>) is deleted at the end, and at the start if a previous run left it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Distance, FieldType, QdrantClient, ReplicaState } from '@qdrant/js-client-grpc';
import { check } from './check.mjs';

const [url, shardsArg = '2'] = process.argv.slice(2);
if (!url || !/^[1-9]\d*$/.test(shardsArg)) {
  console.error('usage: node grpc_engine.mjs <grpc url> [shard_number]');
  process.exit(2);
}
const shardNumber = Number(shardsArg);
const collectionName = `grpc_engine_${process.pid}`;

// ---------------------------------------------------------------------------------------------
// Requests are plain objects the client turns into messages; protobuf-es silently drops a
// property with a misspelt name, which would make a check pass for the wrong reason. So every
// request is first checked against its method's input descriptor.
const protoDir = fileURLToPath(new URL('./node_modules/@qdrant/js-client-grpc/dist/esm/proto/', import.meta.url));
const { Collections } = await import(path.join(protoDir, 'collections_service_pb.js'));
const { Points } = await import(path.join(protoDir, 'points_service_pb.js'));
const services = { collections: Collections, points: Points };

function checkShape(desc, init, where) {
  if (init === undefined || init === null) return;
  assert.equal(typeof init, 'object', `${where}: expected an object for ${desc.typeName}`);
  if ('$typeName' in init) {  // a message the client decoded, passed back (a scroll offset)
    assert.equal(init.$typeName, desc.typeName, `${where}: a ${init.$typeName} for a ${desc.typeName}`);
    return;
  }
  const fields = new Map(desc.fields.map((f) => [f.localName, f]));
  const oneofs = new Map(desc.oneofs.map((o) => [o.localName, o]));
  for (const [key, value] of Object.entries(init)) {
    const at = `${where}.${key}`;
    if (oneofs.has(key)) {
      const member = oneofs.get(key).fields.find((f) => f.localName === value?.case);
      assert.ok(member, `${at}: ${JSON.stringify(value?.case)} is not a case of ${desc.typeName}.${key}`);
      checkValue(member, value.value, `${at}(${value.case})`);
      continue;
    }
    const field = fields.get(key);
    assert.ok(field && !field.oneof, `${at}: ${desc.typeName} has no field ${key}`);
    checkValue(field, value, at);
  }
}

function checkValue(field, value, where) {
  if (field.fieldKind === 'message') checkShape(field.message, value, where);
  else if (field.fieldKind === 'list' && field.listKind === 'message') {
    value.forEach((v, i) => checkShape(field.message, v, `${where}[${i}]`));
  } else if (field.fieldKind === 'map' && field.mapKind === 'message') {
    for (const [k, v] of Object.entries(value)) checkShape(field.message, v, `${where}[${k}]`);
  }
}

const client = new QdrantClient({ url, checkCompatibility: false, timeout: 60_000 });
async function call(api, method, request) {
  checkShape(services[api].method[method].input, request, `${api}.${method}`);
  return client.api(api)[method](request);
}

// ---------------------------------------------------------------------------------------------
// The data: deterministic, so a failure reproduces.
function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = mulberry32(4);
const f32 = (xs) => xs.map(Math.fround);
const randomVector = (dim) => f32(Array.from({ length: dim }, () => rng() * 2 - 1));
const cities = ['Berlin', 'Paris', 'Rome', 'Madrid', 'Lisbon'];
const TEXT_DIM = 8;
const IMAGE_DIM = 4;

const points = [];
for (let i = 1; i <= 1000; i++) {
  points.push({
    id: i,
    text: randomVector(TEXT_DIM),
    image: randomVector(IMAGE_DIM),
    payload: {
      city: cities[Math.floor(rng() * cities.length)],
      n: i,
      price: Math.floor(rng() * 1000) + 0.25,  // never integral: stays a double on the wire
      tags: i % 3 === 0 ? ['even3', 'x'] : ['y'],
      nested: { group: i % 7, ok: i % 2 === 0 },
    },
  });
}
let live = new Map(points.map((p) => [p.id, p]));

// JSON <-> qdrant.Value (json_with_int.proto).
function toValue(x) {
  if (x === null) return { kind: { case: 'nullValue', value: 0 } };
  if (typeof x === 'boolean') return { kind: { case: 'boolValue', value: x } };
  if (typeof x === 'string') return { kind: { case: 'stringValue', value: x } };
  if (typeof x === 'number') {
    return Number.isInteger(x) ? { kind: { case: 'integerValue', value: BigInt(x) } }
      : { kind: { case: 'doubleValue', value: x } };
  }
  if (Array.isArray(x)) return { kind: { case: 'listValue', value: { values: x.map(toValue) } } };
  return { kind: { case: 'structValue', value: { fields: toPayload(x) } } };
}
const toPayload = (obj) => Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, toValue(v)]));
function fromValue(v) {
  const { case: c, value } = v.kind;
  switch (c) {
    case 'nullValue': return null;
    case 'integerValue': return Number(value);
    case 'listValue': return value.values.map(fromValue);
    case 'structValue': return fromPayload(value.fields);
    default: return value;
  }
}
const fromPayload = (p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, fromValue(v)]));

const pointId = (n) => ({ pointIdOptions: { case: 'num', value: BigInt(n) } });
const idOf = (p) => {
  assert.equal(p.id.pointIdOptions.case, 'num', 'numeric point ids only');
  return Number(p.id.pointIdOptions.value);
};
const enablePayload = { selectorOptions: { case: 'enable', value: true } };

// Filters, both as qdrant.Filter and as the JS predicate the expected answers use.
const keyword = (key, value) => ({
  proto: { conditionOneOf: { case: 'field', value: { key, match: { matchValue: { case: 'keyword', value } } } } },
  test: (p) => p.payload[key] === value,
});
const range = (key, r) => ({
  proto: { conditionOneOf: { case: 'field', value: { key, range: r } } },
  test: (p) => (r.gte === undefined || p.payload[key] >= r.gte) && (r.gt === undefined || p.payload[key] > r.gt) &&
    (r.lte === undefined || p.payload[key] <= r.lte) && (r.lt === undefined || p.payload[key] < r.lt),
});
const filterOf = ({ must = [], mustNot = [], should = [] }) => ({
  proto: { must: must.map((c) => c.proto), mustNot: mustNot.map((c) => c.proto), should: should.map((c) => c.proto) },
  test: (p) => must.every((c) => c.test(p)) && !mustNot.some((c) => c.test(p)) &&
    (should.length === 0 || should.some((c) => c.test(p))),
});

// Brute force, as Qdrant scores: cosine on normalised vectors (higher first), Euclid distance
// (lower first). Ties by id, ascending.
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const normalise = (v) => { const n = Math.sqrt(dot(v, v)); return v.map((x) => x / n); };
const euclid = (a, b) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));
function bruteForce(vectorName, query, { filter, limit, exclude } = {}) {
  const scored = [];
  for (const p of live.values()) {
    if (filter && !filter.test(p)) continue;
    if (exclude === p.id) continue;
    const score = vectorName === 'text' ? dot(normalise(query), normalise(p.text)) : euclid(query, p.image);
    scored.push({ id: p.id, score });
  }
  const sign = vectorName === 'text' ? -1 : 1;
  scored.sort((a, b) => sign * (a.score - b.score) || a.id - b.id);
  return scored.slice(0, limit);
}

// The same ranking, allowing two points whose expected scores tie within float precision to
// come in either order.
function assertRanking(got, want, what) {
  const gotIds = got.map(idOf);
  assert.equal(got.length, want.length, `${what}: ${got.length} results, expected ${want.length}`);
  const wantScore = new Map(want.map((w) => [w.id, w.score]));
  got.forEach((g, i) => {
    assert.ok(Math.abs(g.score - want[i].score) < 1e-4,
      `${what}: rank ${i} has score ${g.score}, expected ${want[i].score} (ids ${gotIds} vs ${want.map((w) => w.id)})`);
    const id = idOf(g);
    assert.ok(id === want[i].id || (wantScore.has(id) && Math.abs(wantScore.get(id) - want[i].score) < 1e-5),
      `${what}: rank ${i} is point ${id}, expected ${want[i].id} (ids ${gotIds} vs ${want.map((w) => w.id)})`);
  });
}

// ---------------------------------------------------------------------------------------------
await check('a previous run\'s collection is gone', async () => {
  const exists = await call('collections', 'collectionExists', { collectionName });
  if (exists.result?.exists) await call('collections', 'delete', { collectionName });
});

await check(`create ${collectionName}: vectors text (8, Cosine) and image (4, Euclid), ${shardNumber} shard(s)`, async () => {
  const reply = await call('collections', 'create', {
    collectionName,
    shardNumber,
    vectorsConfig: { config: { case: 'paramsMap', value: { map: {
      text: { size: BigInt(TEXT_DIM), distance: Distance.Cosine },
      image: { size: BigInt(IMAGE_DIM), distance: Distance.Euclid },
    } } } },
  });
  assert.equal(reply.result, true);
  const exists = await call('collections', 'collectionExists', { collectionName });
  assert.equal(exists.result.exists, true);
  const list = await call('collections', 'list', {});
  assert.ok(list.collections.some((c) => c.name === collectionName), 'List includes it');
});

await check('creating it again fails with ALREADY_EXISTS', async () => {
  await assert.rejects(call('collections', 'create', {
    collectionName,
    vectorsConfig: { config: { case: 'params', value: { size: 4n, distance: Distance.Dot } } },
  }), (e) => e.code === 6 /* AlreadyExists */);
});

await check('upsert 1,000 points with payloads in 4 batches (wait: true)', async () => {
  for (let start = 0; start < points.length; start += 250) {
    const batch = points.slice(start, start + 250).map((p) => ({
      id: pointId(p.id),
      vectors: { vectorsOptions: { case: 'vectors', value: { vectors: {
        text: { vector: { case: 'dense', value: { data: p.text } } },
        image: { vector: { case: 'dense', value: { data: p.image } } },
      } } } },
      payload: toPayload(p.payload),
    }));
    const reply = await call('points', 'upsert', { collectionName, wait: true, points: batch });
    assert.equal(reply.result.status, 2 /* UpdateStatus.Completed */);
  }
});

await check('create payload indexes: city keyword, n integer', async () => {
  for (const [fieldName, fieldType] of [['city', FieldType.FieldTypeKeyword], ['n', FieldType.FieldTypeInteger]]) {
    const reply = await call('points', 'createFieldIndex', { collectionName, wait: true, fieldName, fieldType });
    assert.equal(reply.result.status, 2 /* Completed */);
  }
});

await check('collection info: 1,000 points, both vectors, the payload schema', async () => {
  const { result: info } = await call('collections', 'get', { collectionName });
  assert.equal(info.pointsCount, 1000n);
  const vectors = info.config.params.vectorsConfig.config;
  assert.equal(vectors.case, 'paramsMap');
  assert.equal(vectors.value.map.text.size, BigInt(TEXT_DIM));
  assert.equal(vectors.value.map.text.distance, Distance.Cosine);
  assert.equal(vectors.value.map.image.distance, Distance.Euclid);
  assert.equal(info.config.params.shardNumber, shardNumber);
  assert.deepEqual(Object.keys(info.payloadSchema).sort(), ['city', 'n']);
  assert.equal(info.payloadSchema.city.dataType, 1 /* PayloadSchemaType.Keyword */);
  assert.equal(info.payloadSchema.n.dataType, 2 /* PayloadSchemaType.Integer */);
});

await check('get returns the points with their payloads and vectors (text normalised for Cosine)', async () => {
  const ids = [1, 500, 1000];
  const reply = await call('points', 'get', {
    collectionName, ids: ids.map(pointId), withPayload: enablePayload,
    withVectors: { selectorOptions: { case: 'enable', value: true } },
  });
  assert.deepEqual(reply.result.map(idOf).sort((a, b) => a - b), ids);
  for (const r of reply.result) {
    const p = live.get(idOf(r));
    assert.deepEqual(fromPayload(r.payload), p.payload);
    const named = r.vectors.vectorsOptions.value.vectors;
    const text = named.text.vector.value.data;
    normalise(p.text).forEach((x, i) => assert.ok(Math.abs(text[i] - x) < 1e-5, `text[${i}] of point ${p.id}`));
    assert.deepEqual(named.image.vector.value.data, p.image);
  }
});

const queryText = randomVector(TEXT_DIM);
const queryImage = randomVector(IMAGE_DIM);

await check('search text (Cosine), exact, no filter: the brute-force top 10', async () => {
  const reply = await call('points', 'search', {
    collectionName, vector: queryText, vectorName: 'text', limit: 10n, params: { exact: true },
    withPayload: enablePayload,
  });
  assertRanking(reply.result, bruteForce('text', queryText, { limit: 10 }), 'search text');
  for (const r of reply.result) assert.deepEqual(fromPayload(r.payload), live.get(idOf(r)).payload);
});

await check('search text with the index (not exact): recall@10 of at least 0.9', async () => {
  const reply = await call('points', 'search', { collectionName, vector: queryText, vectorName: 'text', limit: 10n });
  const want = new Set(bruteForce('text', queryText, { limit: 10 }).map((w) => w.id));
  const hits = reply.result.filter((r) => want.has(idOf(r))).length;
  assert.ok(hits >= 9, `recall ${hits}/10`);
});

await check('search image (Euclid), exact: smallest distances first', async () => {
  const reply = await call('points', 'search', {
    collectionName, vector: queryImage, vectorName: 'image', limit: 5n, params: { exact: true },
  });
  assertRanking(reply.result, bruteForce('image', queryImage, { limit: 5 }), 'search image');
});

const berlinMid = filterOf({ must: [keyword('city', 'Berlin'), range('n', { gte: 100, lt: 800 })] });
const notParisOrRome = filterOf({ mustNot: [keyword('city', 'Paris'), keyword('city', 'Rome')] });

await check('search with filter (city = Berlin and 100 <= n < 800), exact and with the index', async () => {
  const want = bruteForce('text', queryText, { filter: berlinMid, limit: 15 });
  for (const params of [{ exact: true }, undefined]) {
    const reply = await call('points', 'search', {
      collectionName, vector: queryText, vectorName: 'text', limit: 15n, filter: berlinMid.proto, params,
      withPayload: enablePayload,
    });
    for (const r of reply.result) assert.ok(berlinMid.test(live.get(idOf(r))), `point ${idOf(r)} fails the filter`);
    if (params) assertRanking(reply.result, want, 'filtered search');
  }
});

await check('search with must_not, offset and score_threshold', async () => {
  const all = bruteForce('text', queryText, { filter: notParisOrRome, limit: 30 });
  const reply = await call('points', 'search', {
    collectionName, vector: queryText, vectorName: 'text', limit: 10n, offset: 5n, params: { exact: true },
    filter: notParisOrRome.proto,
  });
  assertRanking(reply.result, all.slice(5, 15), 'offset search');
  const threshold = all[7].score - 1e-6;
  const cut = await call('points', 'search', {
    collectionName, vector: queryText, vectorName: 'text', limit: 30n, params: { exact: true },
    filter: notParisOrRome.proto, scoreThreshold: threshold,
  });
  assertRanking(cut.result, all.filter((w) => w.score >= threshold), 'score_threshold search');
});

await check('search batch: two searches answered in order', async () => {
  const reply = await call('points', 'searchBatch', {
    collectionName,
    searchPoints: [
      { collectionName, vector: queryText, vectorName: 'text', limit: 3n, params: { exact: true } },
      { collectionName, vector: queryImage, vectorName: 'image', limit: 3n, params: { exact: true }, filter: berlinMid.proto },
    ],
  });
  assert.equal(reply.result.length, 2);
  assertRanking(reply.result[0].result, bruteForce('text', queryText, { limit: 3 }), 'batch 0');
  assertRanking(reply.result[1].result, bruteForce('image', queryImage, { limit: 3, filter: berlinMid }), 'batch 1');
});

await check('query nearest by vector, with filter: the brute-force top 10', async () => {
  const reply = await call('points', 'query', {
    collectionName, using: 'text', limit: 10n, filter: berlinMid.proto, params: { exact: true },
    query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: queryText } } } } },
  });
  assertRanking(reply.result, bruteForce('text', queryText, { filter: berlinMid, limit: 10 }), 'query');
});

await check('query nearest by point id: that point\'s neighbours, itself excluded', async () => {
  const anchor = live.get(42);
  const reply = await call('points', 'query', {
    collectionName, using: 'image', limit: 5n, params: { exact: true },
    query: { variant: { case: 'nearest', value: { variant: { case: 'id', value: pointId(42) } } } },
  });
  assertRanking(reply.result, bruteForce('image', anchor.image, { limit: 5, exclude: 42 }), 'query by id');
});

await check('query: text and image prefetches fused by rrf, as computed by hand from each', async () => {
  const nearest = (data) => ({ variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data } } } } });
  const queryImage = [0.1, -0.2, 0.3, 0.05];
  const textHits = (await call('points', 'query', { collectionName, using: 'text', limit: 20n, query: nearest(queryText), params: { exact: true } })).result;
  const imageHits = (await call('points', 'query', { collectionName, using: 'image', limit: 20n, query: nearest(queryImage), params: { exact: true } })).result;
  const sums = new Map();
  for (const list of [textHits, imageHits]) list.forEach((h, pos) => sums.set(idOf(h), (sums.get(idOf(h)) ?? 0) + 1 / (2 + pos)));
  const want = [...sums].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score || a.id - b.id).slice(0, 10);
  const reply = await call('points', 'query', {
    collectionName, limit: 10n,
    prefetch: [
      { using: 'text', limit: 20n, query: nearest(queryText), params: { exact: true } },
      { using: 'image', limit: 20n, query: nearest(queryImage), params: { exact: true } },
    ],
    query: { variant: { case: 'fusion', value: 0 } },  // Fusion.RRF
  });
  assertRanking(reply.result, want, 'rrf');
});

await check('query recommend (best_score, exact): the brute-force ranking without the examples', async () => {
  const sigmoid = (x) => 0.5 * (x / (1 + Math.abs(x)) + 1);
  const unit = (id) => normalise(live.get(id).text);
  const example = (id) => ({ variant: { case: 'id', value: pointId(id) } });
  const [pos1, pos2, neg] = [...live.keys()].slice(0, 3);
  const scored = [];
  for (const p of live.values()) {
    if ([pos1, pos2, neg].includes(p.id)) continue;
    const x = normalise(p.text);
    const best = Math.max(dot(unit(pos1), x), dot(unit(pos2), x));
    const worst = dot(unit(neg), x);
    scored.push({ id: p.id, score: best > worst ? sigmoid(best) : -sigmoid(worst) });
  }
  scored.sort((a, b) => b.score - a.score || a.id - b.id);
  const reply = await call('points', 'query', {
    collectionName, using: 'text', limit: 10n, params: { exact: true },
    query: { variant: { case: 'recommend', value: { positive: [example(pos1), example(pos2)], negative: [example(neg)], strategy: 1 } } },
  });
  assertRanking(reply.result, scored.slice(0, 10), 'recommend');
});

await check('query groups by city: the best points of the first three cities, two each', async () => {
  const ranking = bruteForce('text', queryText, { limit: live.size });
  const groups = [];
  for (const hit of ranking) {
    const city = live.get(hit.id).payload.city;
    let group = groups.find((g) => g.id === city);
    if (!group) {
      if (groups.length === 3) continue;
      group = { id: city, hits: [] };
      groups.push(group);
    }
    if (group.hits.length < 2) group.hits.push(hit);
  }
  const reply = await call('points', 'queryGroups', {
    collectionName, using: 'text', limit: 3n, groupSize: 2n, groupBy: 'city', params: { exact: true },
    query: { variant: { case: 'nearest', value: { variant: { case: 'dense', value: { data: queryText } } } } },
  });
  assert.equal(reply.result.groups.length, 3, 'groups');
  reply.result.groups.forEach((g, i) => {
    assert.equal(g.id.kind.value, groups[i].id, `group ${i}`);
    assertRanking(g.hits, groups[i].hits, `group ${groups[i].id}`);
  });
});

await check('scroll (city = Paris) in pages of 37: every match once, by id, with its payload', async () => {
  const paris = filterOf({ must: [keyword('city', 'Paris')] });
  const want = [...live.values()].filter(paris.test).map((p) => p.id).sort((a, b) => a - b);
  const got = [];
  let offset;
  for (let page = 0; page < 100; page++) {
    const reply = await call('points', 'scroll', {
      collectionName, filter: paris.proto, limit: 37, offset, withPayload: enablePayload,
    });
    for (const r of reply.result) {
      got.push(idOf(r));
      assert.deepEqual(fromPayload(r.payload), live.get(idOf(r)).payload);
    }
    if (!reply.nextPageOffset) break;
    offset = reply.nextPageOffset;
  }
  assert.deepEqual(got, want);
});

await check('scroll ordered by price (a float index), desc from 700, city = Berlin: by (price, id) descending', async () => {
  const index = await call('points', 'createFieldIndex', { collectionName, wait: true, fieldName: 'price', fieldType: FieldType.FieldTypeFloat });
  assert.equal(index.result.status, 2 /* Completed */);
  const berlin = filterOf({ must: [keyword('city', 'Berlin')] });
  // Qdrant sorts (value, id) pairs: descending puts the larger id first among equal prices.
  const want = [...live.values()].filter((p) => berlin.test(p) && p.payload.price <= 700)
    .sort((a, b) => b.payload.price - a.payload.price || b.id - a.id).slice(0, 40);
  assert.ok(want.some((p, i) => i > 0 && p.payload.price === want[i - 1].payload.price), 'the data has ties');
  const reply = await call('points', 'scroll', {
    collectionName, filter: berlin.proto, limit: 40, withPayload: enablePayload,
    orderBy: { key: 'price', direction: 1 /* Direction.Desc */, startFrom: { value: { case: 'float', value: 700 } } },
  });
  assert.deepEqual(reply.result.map(idOf), want.map((p) => p.id));
  for (const r of reply.result) {
    assert.equal(r.orderValue?.variant.case, 'float');
    assert.equal(r.orderValue.variant.value, live.get(idOf(r)).payload.price);
  }
  assert.equal(reply.nextPageOffset, undefined);
});

await check('count: all points, and with filters (exact)', async () => {
  const all = await call('points', 'count', { collectionName, exact: true });
  assert.equal(all.result.count, BigInt(live.size));
  for (const f of [berlinMid, notParisOrRome]) {
    const reply = await call('points', 'count', { collectionName, filter: f.proto, exact: true });
    assert.equal(reply.result.count, BigInt([...live.values()].filter(f.test).length));
  }
});

await check('delete by filter (city = Rome): count, search and get no longer see those points', async () => {
  const rome = filterOf({ must: [keyword('city', 'Rome')] });
  const romeIds = [...live.values()].filter(rome.test).map((p) => p.id);
  assert.ok(romeIds.length > 100, 'the data has Rome points');
  const reply = await call('points', 'delete', {
    collectionName, wait: true, points: { pointsSelectorOneOf: { case: 'filter', value: rome.proto } },
  });
  assert.equal(reply.result.status, 2 /* Completed */);
  live = new Map([...live].filter(([, p]) => !rome.test(p)));
  const count = await call('points', 'count', { collectionName, exact: true });
  assert.equal(count.result.count, BigInt(live.size));
  const romeCount = await call('points', 'count', { collectionName, exact: true, filter: rome.proto });
  assert.equal(romeCount.result.count, 0n);
  const search = await call('points', 'search', {
    collectionName, vector: queryText, vectorName: 'text', limit: 20n, params: { exact: true },
  });
  assertRanking(search.result, bruteForce('text', queryText, { limit: 20 }), 'search after delete');
  const get = await call('points', 'get', { collectionName, ids: romeIds.slice(0, 5).map(pointId) });
  assert.equal(get.result.length, 0);
});

await check(`collection cluster info: ${shardNumber} active shard(s) holding every remaining point`, async () => {
  const info = await call('collections', 'collectionClusterInfo', { collectionName });
  assert.ok(info.peerId > 0n, 'a peer id');
  assert.equal(info.shardCount, BigInt(shardNumber));
  const shards = [...info.localShards, ...info.remoteShards];
  assert.deepEqual([...new Set(shards.map((s) => s.shardId))].sort((a, b) => a - b),
    Array.from({ length: shardNumber }, (_, i) => i));
  for (const s of shards) assert.equal(s.state, ReplicaState.Active, `shard ${s.shardId}`);
  // Single peer: all shards are local and their counts add up. (In a cluster, every shard
  // has a local or remote replica, checked above.)
  if (info.remoteShards.length === 0) {
    const total = info.localShards.reduce((n, s) => n + s.pointsCount, 0n);
    assert.equal(total, BigInt(live.size));
  }
  assert.deepEqual(info.shardTransfers, []);
});

await check('delete the collection; it no longer exists', async () => {
  const reply = await call('collections', 'delete', { collectionName });
  assert.equal(reply.result, true);
  const exists = await call('collections', 'collectionExists', { collectionName });
  assert.equal(exists.result.exists, false);
  await assert.rejects(call('collections', 'get', { collectionName }), (e) => e.code === 5 /* NotFound */);
});
