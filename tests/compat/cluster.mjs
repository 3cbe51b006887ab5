// Qdrant's official REST client against a one-peer qdrantd cluster: GET /cluster with the
// `rebalance` object qdrantd adds (docs/cluster.md) still parses, and Qdrant's fields are there.
// Usage: node cluster.mjs <rest url>. Prints one line per check; exits 1 on the first mismatch.
import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
import { check } from './check.mjs';

const [restUrl] = process.argv.slice(2);
assert.ok(restUrl, 'usage: node cluster.mjs <rest url>');

const client = new QdrantClient({ url: restUrl, checkCompatibility: false });

// QdrantClient has no cluster-status method; its generated API client (client.api()) does.
const api = client.api();

await check('REST clusterStatus() parses, with Qdrant\'s fields and the rebalance object', async () => {
  const { data, status: http } = await api.clusterStatus({});
  assert.equal(http, 200);
  const status = data.result;
  assert.equal(status.status, 'enabled');
  // The client reads integers beyond 2^53 (random 64-bit peer ids) as BigInt.
  assert.ok(['number', 'bigint'].includes(typeof status.peer_id));
  assert.ok(status.peers[String(status.peer_id)].uri.startsWith('http://'));
  assert.equal(status.raft_info.role, 'Leader');
  assert.equal(status.consensus_thread_status.consensus_thread_status, 'working');
  assert.deepEqual(status.message_send_failures, {});
  assert.ok(['idle', 'running', 'done'].includes(status.rebalance.state));
  assert.deepEqual(status.rebalance.draining, []);
});

await check('REST recoverCurrentPeer() and removePeer() of an unknown peer answer as Qdrant', async () => {
  const { data } = await api.recoverCurrentPeer({});
  assert.equal(data.result, true);
  await assert.rejects(api.removePeer({ peer_id: 12345 }), (e) => e.status === 404);
});
