// Qdrant's official REST client (npm @qdrant/js-client-rest) driving the vector engine of a live
// qdrantd (issue #3, item 8): a collection with named dense and sparse vectors, 1,000 points
// with payloads, a payload index, filtered search, query, scroll to the end, scroll with
// order_by, count, delete by filter and a snapshot. Every answer is checked against values this script computes itself
// (brute-force nearest neighbours in double precision).
// Usage: node rest_engine.mjs <rest url>. Prints one line per check; exits 1 on the first failure.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import { check } from './check.mjs';

const [restUrl] = process.argv.slice(2);
assert.ok(restUrl, 'usage: node rest_engine.mjs <rest url>');
const client = new QdrantClient({ url: restUrl, checkCompatibility: false });

// Deterministic data.
let seed = 12345;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const DIM = 8;
const N = 1000;
const cities = ['Berlin', 'Paris', 'London', 'Rome', 'Madrid'];
const points = [];
for (let i = 0; i < N; i++) {
  const image = Array.from({ length: DIM }, () => Math.round((random() * 2 - 1) * 1000) / 1000);
  const indices = [...new Set(Array.from({ length: 5 }, () => Math.floor(random() * 50)))].sort((a, b) => a - b);
  const values = indices.map(() => Math.round(random() * 100) / 100);
  points.push({
    id: i + 1,
    vector: { image, text: { indices, values } },
    payload: { group: i % 10, city: cities[i % cities.length], price: i * 1.5 },
  });
}
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const cosine = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) / (norm(a) * norm(b));
const sparseDot = (a, b) => {
  let s = 0;
  a.indices.forEach((idx, i) => {
    const j = b.indices.indexOf(idx);
    if (j >= 0) s += a.values[i] * b.values[j];
  });
  return s;
};
const overlaps = (a, b) => a.indices.some((i) => b.indices.includes(i));
const topK = (candidates, score, k) =>
  candidates.map((p) => ({ id: p.id, score: score(p) })).sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k);
const sameRanking = (got, expected) => {
  assert.equal(got.length, expected.length, 'number of results');
  got.forEach((g, i) => {
    assert.equal(g.id, expected[i].id, `result ${i}: id`);
    assert.ok(Math.abs(g.score - expected[i].score) < 1e-4, `result ${i}: score ${g.score} vs ${expected[i].score}`);
  });
};
const name = 'compat_engine';
const query = Array.from({ length: DIM }, () => random() * 2 - 1);

await check('createCollection with named dense and sparse vectors', async () => {
  await client.deleteCollection(name);
  assert.equal(await client.createCollection(name, {
    vectors: { image: { size: DIM, distance: 'Cosine' } },
    sparse_vectors: { text: {} },
    shard_number: 2,
  }), true);
  const info = await client.getCollection(name);
  assert.equal(info.config.params.vectors.image.size, DIM);
  assert.deepEqual(Object.keys(info.config.params.sparse_vectors), ['text']);
});

await check('upsert 1,000 points with payloads in batches', async () => {
  for (let i = 0; i < N; i += 250) {
    const r = await client.upsert(name, { wait: true, points: points.slice(i, i + 250) });
    assert.equal(r.status, 'completed');
  }
  const info = await client.getCollection(name);
  assert.equal(info.points_count, N);
});

await check('createPayloadIndex and payload_schema', async () => {
  await client.createPayloadIndex(name, { field_name: 'city', field_schema: 'keyword', wait: true });
  await client.createPayloadIndex(name, { field_name: 'group', field_schema: 'integer', wait: true });
  const info = await client.getCollection(name);
  assert.equal(info.payload_schema.city.data_type, 'keyword');
  assert.equal(info.payload_schema.city.points, N);
  assert.equal(info.payload_schema.group.data_type, 'integer');
});

// The 1.19 client has no search(); points/search and search/batch are called over plain HTTP.
const post = async (path, body) => {
  const response = await fetch(`${restUrl}/collections/${name}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).result;
};

await check('points/search and search/batch without filter equal brute force', async () => {
  const expected = topK(points, (p) => cosine(query, p.vector.image), 10);
  sameRanking(await post('/points/search', { vector: { name: 'image', vector: query }, limit: 10 }), expected);
  const batch = await post('/points/search/batch', { searches: [
    { vector: { name: 'image', vector: query }, limit: 10 },
    { vector: { name: 'image', vector: query }, limit: 3, offset: 2 },
  ] });
  sameRanking(batch[0], expected);
  sameRanking(batch[1], expected.slice(2, 5));
});

await check('search with a filter equals brute force over the matching points', async () => {
  const filter = { must: [{ key: 'city', match: { value: 'Paris' } }, { key: 'price', range: { lt: 900 } }] };
  const got = (await client.query(name, { query, using: 'image', limit: 7, filter, with_payload: true })).points;
  const matching = points.filter((p) => p.payload.city === 'Paris' && p.payload.price < 900);
  sameRanking(got, topK(matching, (p) => cosine(query, p.vector.image), 7));
  got.forEach((g) => assert.equal(g.payload.city, 'Paris'));
});

await check('query (nearest, using a named vector) equals brute force', async () => {
  const got = await client.query(name, { query, using: 'image', limit: 5, filter: { must_not: [{ key: 'group', match: { any: [1, 2, 3] } }] } });
  const matching = points.filter((p) => ![1, 2, 3].includes(p.payload.group));
  sameRanking(got.points, topK(matching, (p) => cosine(query, p.vector.image), 5));
});

await check('query with a sparse vector equals exact dot product', async () => {
  const sq = { indices: [3, 7, 11, 20], values: [0.5, 1, 0.25, 2] };
  const got = await client.query(name, { query: sq, using: 'text', limit: 10, with_vector: ['text'] });
  const matching = points.filter((p) => overlaps(sq, p.vector.text));
  sameRanking(got.points, topK(matching, (p) => sparseDot(sq, p.vector.text), 10));
  const stored = points.find((p) => p.id === got.points[0].id).vector.text;
  assert.deepEqual(got.points[0].vector.text, stored, 'sparse vector returned faithfully');
});

await check('hybrid query: dense and sparse prefetch fused by rrf, as computed by hand', async () => {
  const sq = { indices: [3, 7, 11, 20], values: [0.5, 1, 0.25, 2] };
  const dense = topK(points, (p) => cosine(query, p.vector.image), 20);
  const sparse = topK(points.filter((p) => overlaps(sq, p.vector.text)), (p) => sparseDot(sq, p.vector.text), 20);
  const sums = new Map();
  for (const list of [dense, sparse]) list.forEach((h, pos) => sums.set(h.id, (sums.get(h.id) ?? 0) + 1 / (2 + pos)));
  const expected = [...sums].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score || a.id - b.id).slice(0, 10);
  const got = await client.query(name, {
    prefetch: [{ query, using: 'image', limit: 20 }, { query: sq, using: 'text', limit: 20 }],
    query: { fusion: 'rrf' },
    limit: 10,
    with_payload: true,
  });
  sameRanking(got.points, expected);
  assert.equal(got.points[0].payload.city, points[got.points[0].id - 1].payload.city, 'payload of a fused point');
});

await check('recommend (best_score) and discover equal brute force', async () => {
  const example = (id) => points[id - 1].vector.image;
  const sigmoid = (x) => 0.5 * (x / (1 + Math.abs(x)) + 1);
  const others = points.filter((p) => ![1, 2, 3].includes(p.id));
  const best = (p) => {
    const pos = Math.max(cosine(example(1), p.vector.image), cosine(example(2), p.vector.image));
    const neg = cosine(example(3), p.vector.image);
    return pos > neg ? sigmoid(pos) : -sigmoid(neg);
  };
  const got = await client.query(name, {
    query: { recommend: { positive: [1, 2], negative: [3], strategy: 'best_score' } },
    using: 'image', limit: 8, params: { exact: true },
  });
  sameRanking(got.points, topK(others, best, 8));
  const discover = (p) => {
    const rank = cosine(example(2), p.vector.image) > cosine(example(3), p.vector.image) ? 1 : -1;
    return rank + sigmoid(cosine(example(1), p.vector.image));
  };
  const found = await client.query(name, {
    query: { discover: { target: 1, context: [{ positive: 2, negative: 3 }] } },
    using: 'image', limit: 8, params: { exact: true },
  });
  sameRanking(found.points, topK(others, discover, 8));
});

await check('scroll to the end returns every id once, in order', async () => {
  const seen = [];
  let offset;
  do {
    const page = await client.scroll(name, { limit: 97, offset, with_payload: false });
    seen.push(...page.points.map((p) => p.id));
    offset = page.next_page_offset;
  } while (offset !== null && offset !== undefined);
  assert.deepEqual(seen, points.map((p) => p.id));
});

await check('scroll with order_by: (value, id) order, start_from, filter, order_value', async () => {
  await client.createPayloadIndex(name, { field_name: 'price', field_schema: 'float', wait: true });
  const rome = (p) => p.payload.city === 'Rome';
  const asc = await client.scroll(name, {
    limit: 30, with_payload: true, filter: { must: [{ key: 'city', match: { value: 'Rome' } }] },
    order_by: { key: 'price', direction: 'asc', start_from: 301 },
  });
  const wantAsc = points.filter((p) => rome(p) && p.payload.price >= 301)
    .sort((a, b) => a.payload.price - b.payload.price || a.id - b.id).slice(0, 30);
  assert.deepEqual(asc.points.map((p) => p.id), wantAsc.map((p) => p.id));
  asc.points.forEach((p) => assert.equal(p.order_value, p.payload.price));
  assert.equal(asc.next_page_offset ?? null, null);
  // group (an integer index) ties heavily: descending puts the larger id first among equals.
  const desc = await client.scroll(name, { limit: 25, with_payload: false, order_by: { key: 'group', direction: 'desc' } });
  const wantDesc = [...points].sort((a, b) => b.payload.group - a.payload.group || b.id - a.id).slice(0, 25);
  assert.deepEqual(desc.points.map((p) => p.id), wantDesc.map((p) => p.id));
  desc.points.forEach((p) => assert.equal(p.order_value, 9));
  const byKey = await client.scroll(name, { limit: 3, order_by: 'group' });
  assert.deepEqual(byKey.points.map((p) => p.id), [1, 11, 21]);
});

await check('count (exact) with a filter', async () => {
  const { count } = await client.count(name, { exact: true, filter: { should: [{ key: 'group', match: { value: 4 } }, { key: 'city', match: { value: 'Rome' } }] } });
  assert.equal(count, points.filter((p) => p.payload.group === 4 || p.payload.city === 'Rome').length);
});

await check('retrieve returns the stored vectors and payload', async () => {
  const [p] = await client.retrieve(name, { ids: [42], with_vector: true, with_payload: true });
  const stored = points[41];
  assert.deepEqual(p.payload, stored.payload);
  const n = norm(stored.vector.image);
  p.vector.image.forEach((x, i) => assert.ok(Math.abs(x - stored.vector.image[i] / n) < 1e-6));
});

await check('delete by filter', async () => {
  await client.delete(name, { wait: true, filter: { must: [{ key: 'group', match: { value: 0 } }] } });
  const { count } = await client.count(name, { exact: true });
  assert.equal(count, N - points.filter((p) => p.payload.group === 0).length);
});

await check('snapshot: create, list, download with a matching SHA-256', async () => {
  const created = await client.createSnapshot(name, { wait: true });
  const listed = await client.listSnapshots(name);
  assert.ok(listed.some((s) => s.name === created.name));
  const response = await fetch(`${restUrl}/collections/${name}/snapshots/${created.name}`);
  assert.equal(response.status, 200);
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.equal(bytes.length, created.size);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), created.checksum);
  assert.equal(await client.deleteSnapshot(name, created.name), true);
});

await check('shard snapshot: create, list, recover the shard from it, delete', async () => {
  const created = await client.createShardSnapshot(name, 0, { wait: true });
  const listed = await client.listShardSnapshots(name, 0);
  assert.ok(listed.some((s) => s.name === created.name));
  const before = (await client.count(name, { exact: true })).count;
  const location = `${restUrl}/collections/${name}/shards/0/snapshots/${created.name}`;
  assert.equal(await client.recoverShardFromSnapshot(name, 0, { location, checksum: created.checksum, wait: true }), true);
  assert.equal((await client.count(name, { exact: true })).count, before);
  await assert.rejects(client.recoverShardFromSnapshot(name, 0, { location, checksum: '0'.repeat(64), wait: true }),
    (e) => e.status === 400);
  assert.equal(await client.deleteShardSnapshot(name, 0, created.name, { wait: true }), true);
});

await check('strict mode: a limit above max_query_limit is refused with 403, then allowed when off', async () => {
  await client.updateCollection(name, { strict_mode_config: { enabled: true, max_query_limit: 5 } });
  await assert.rejects(client.query(name, { query: points[0].vector.image, using: 'image', limit: 6 }),
    (e) => e.status === 403 && JSON.stringify(e.data).includes('Limit exceeded 6 > 5 for \\"limit\\"'));
  const ok = await client.query(name, { query: points[0].vector.image, using: 'image', limit: 5 });
  assert.equal(ok.points.length, 5);
  await client.updateCollection(name, { strict_mode_config: { enabled: false } });
  assert.equal((await client.query(name, { query: points[0].vector.image, using: 'image', limit: 6 })).points.length, 6);
});

await check('deleteCollection', async () => {
  assert.equal(await client.deleteCollection(name), true);
  assert.equal((await client.collectionExists(name)).exists, false);
});
