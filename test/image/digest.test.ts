import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidDigestError, chainId, chainIds, digestWith, isDigest, parseDigest, sha256Digest, shortId,
} from '../../engine/image/index.js';

const A = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
const B = 'sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881';

describe('digests', () => {
  test('sha256 digest of bytes and of text are the same for the same content', () => {
    assert.equal(sha256Digest('x'), B);
    assert.equal(sha256Digest(Buffer.from('x')), B);
    assert.equal(sha256Digest(Buffer.alloc(1024)), A);
  });

  test('sha512 digests have 128 hex digits and parse', () => {
    const digest = digestWith('sha512', 'x');
    assert.match(digest, /^sha512:[a-f0-9]{128}$/);
    assert.deepEqual(parseDigest(digest).algorithm, 'sha512');
  });

  test('parse accepts registered and unknown algorithms that fit the grammar', () => {
    assert.deepEqual(parseDigest(A), {algorithm: 'sha256', encoded: A.slice(7)});
    assert.deepEqual(parseDigest('multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8'), {
      algorithm: 'multihash+base58', encoded: 'QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8',
    });
    assert.ok(isDigest('sha384:abc='));
  });

  test('parse rejects uppercase hex, wrong lengths and broken grammar with a typed error', () => {
    for (const bad of [A.toUpperCase(), 'sha256:' + 'A'.repeat(64), 'sha256:abc', 'sha512:' + 'a'.repeat(64), 'sha256', ':abc', 'SHA256:' + 'a'.repeat(64), 'sha256:a/b', 'sha256+:aa']) {
      assert.throws(() => parseDigest(bad), (error: unknown) => error instanceof InvalidDigestError && error.code === 'ERR_INVALID_DIGEST', bad);
      assert.equal(isDigest(bad), false);
    }
  });

  test('short id is the first 12 hex digits without the algorithm', () => {
    assert.equal(shortId(A), '5f70bf18a086');
    assert.equal(shortId('5f70bf18a086007016e9'), '5f70bf18a086');
  });
});

describe('chain ids', () => {
  test('match the reference test vectors', () => {
    assert.deepEqual(chainIds([A, B]), [A, 'sha256:8fe3e9dab2bd58a087540ced22da9d30c83c47789d3d33fefe1170024c5df776']);
    assert.deepEqual(chainIds([A, A]), [A, 'sha256:170b376f64fb30995c140276be3d71dfb256b308d86183ca3b22aa93a79ad548']);
  });

  test('a single layer chain id is its diff id, and (A,A) differs from (A)', () => {
    assert.equal(chainId([B]), B);
    assert.notEqual(chainId([A, A]), chainId([A]));
    assert.equal(chainId([]), undefined);
    assert.deepEqual(chainIds([]), []);
  });

  test('every prefix chain id extends the previous one', () => {
    const ids = chainIds([A, B, A]);
    assert.equal(ids.length, 3);
    assert.equal(ids[2], sha256Digest(`${ids[1]} ${A}`));
  });
});
