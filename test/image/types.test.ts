import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidImageError, MediaType, chainIds, exporterHistoryComment, historyWithLayers, layerCompression,
  validateConfig, validateIndex, validateManifest, type ImageConfig, type Manifest,
} from '../../engine/image/index.js';

const A = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
const B = 'sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881';

function manifestWith(layers: number): Manifest {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: {mediaType: MediaType.ociConfig, digest: A, size: 10},
    layers: Array.from({length: layers}, () => ({mediaType: MediaType.ociLayer, digest: A, size: 1024})),
  };
}

function configWith(diffIds: string[], history?: ImageConfig['history']): ImageConfig {
  return {architecture: 'amd64', os: 'linux', rootfs: {type: 'layers', diff_ids: diffIds}, ...(history ? {history} : {})};
}

describe('manifest and config validation', () => {
  test('a well-formed manifest and its config pass', () => {
    validateManifest(manifestWith(2), MediaType.ociManifest);
    validateConfig(configWith([A, B]), manifestWith(2));
  });

  test('a manifest whose body media type disagrees with its descriptor fails', () => {
    assert.throws(() => validateManifest(manifestWith(1), MediaType.dockerManifest), /disagrees/);
    assert.throws(() => validateManifest({...manifestWith(1), mediaType: MediaType.ociIndex}), InvalidImageError);
  });

  test('a manifest with both manifests and layers is ambiguous and fails', () => {
    assert.throws(() => validateManifest({...manifestWith(1), mediaType: undefined, manifests: []}), /both manifests and layers/);
    assert.throws(() => validateIndex({schemaVersion: 2, manifests: [], layers: []}), /both manifests and layers/);
  });

  test('descriptors with negative sizes or bad digests fail', () => {
    const manifest = manifestWith(1);
    manifest.layers[0].size = -1;
    assert.throws(() => validateManifest(manifest), /invalid size/);
    assert.throws(() => validateManifest({...manifestWith(0), config: {mediaType: MediaType.ociConfig, digest: 'sha256:XYZ', size: 1}}), /invalid digest/);
  });

  test('embedded descriptor data must match size and digest', () => {
    const manifest = manifestWith(0);
    manifest.config = {mediaType: MediaType.ociEmpty, digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2, data: 'e30='};
    validateManifest(manifest);
    assert.throws(() => validateManifest({...manifest, config: {...manifest.config, data: 'W10='}}), /data does not match digest/);
    assert.throws(() => validateManifest({...manifest, config: {...manifest.config, data: 'e30gIA=='}}), /data is 4 bytes, size says 2/);
  });

  test('rootfs.type other than layers fails', () => {
    const config = configWith([A]);
    config.rootfs.type = 'layer';
    assert.throws(() => validateConfig(config), /rootfs.type "layer" is not "layers"/);
  });

  test('diff_ids count must equal the layer count', () => {
    assert.throws(() => validateConfig(configWith([A]), manifestWith(2)), /1 diff_ids for 2 layers/);
  });

  test('null config and null Env parse, and an unknown config media type is refused for an image', () => {
    validateConfig({...configWith([]), config: null});
    validateConfig({...configWith([]), config: {Env: null}});
    const manifest = manifestWith(0);
    manifest.config.mediaType = 'application/vnd.example.thing+json';
    assert.throws(() => validateConfig(configWith([]), manifest), /is not an image config/);
  });

  test('healthcheck nanoseconds survive a JSON round trip exactly', () => {
    const config = {...configWith([]), config: {Healthcheck: {Test: ['CMD', 'true'], Interval: 30_000_000_000, StartPeriod: 1_500_000_001}}};
    const parsed = JSON.parse(JSON.stringify(config)) as ImageConfig;
    validateConfig(parsed);
    assert.equal(parsed.config?.Healthcheck?.StartPeriod, 1_500_000_001);
  });

  test('layer compression comes from the media type', () => {
    assert.equal(layerCompression(MediaType.ociLayer), 'none');
    assert.equal(layerCompression(MediaType.ociLayerGzip), 'gzip');
    assert.equal(layerCompression(MediaType.dockerLayerGzip), 'gzip');
    assert.equal(layerCompression(MediaType.ociLayerZstd), 'zstd');
    assert.equal(layerCompression('application/x-unknown'), undefined);
  });
});

describe('history paired with layers', () => {
  test('non-empty entries take diff ids in order and empty ones take none', () => {
    const config = configWith([A, B], [
      {created_by: 'ADD rootfs'},
      {created_by: 'ENV A=b', empty_layer: true},
      {created_by: 'RUN make # buildkit', empty_layer: false},
    ]);
    const rows = historyWithLayers(config);
    assert.deepEqual(rows.map(row => [row.index, row.emptyLayer, row.layerIndex, row.diffId]), [
      [0, false, 0, A], [1, true, undefined, undefined], [2, false, 1, B],
    ]);
    assert.deepEqual(rows.filter(row => !row.emptyLayer).map(row => row.chainId), chainIds([A, B]));
    assert.ok(rows.every(row => row.repaired === undefined));
  });

  test('more diff ids than history (docker import, squash) adds exporter entries for the rest', () => {
    const config = {...configWith([A, B], [{created_by: '', comment: 'Imported from -'}]), created: '2024-05-01T00:00:00Z'};
    const rows = historyWithLayers(config);
    assert.equal(rows.length, 2);
    assert.equal(rows[0].diffId, A);
    assert.deepEqual(rows[1].entry, {comment: exporterHistoryComment, created: '2024-05-01T00:00:00Z'});
    assert.equal(rows[1].diffId, B);
    assert.equal(rows[1].repaired, 'added');
  });

  test('an image with no history gets one entry per layer', () => {
    const rows = historyWithLayers(configWith([A, B]));
    assert.deepEqual(rows.map(row => [row.layerIndex, row.repaired]), [[0, 'added'], [1, 'added']]);
  });

  test('surplus non-empty entries become empty from the end, and strict mode refuses them as docker does', () => {
    const config = configWith([A], [{created_by: 'one'}, {created_by: 'two'}, {created_by: 'three', empty_layer: true}]);
    const rows = historyWithLayers(config);
    assert.deepEqual(rows.map(row => [row.emptyLayer, row.diffId, row.repaired]), [
      [false, A, undefined], [true, undefined, 'emptied'], [true, undefined, undefined],
    ]);
    assert.equal(rows[1].entry.empty_layer, true);
    assert.equal(config.history![1].empty_layer, undefined, 'the config is not changed');
    assert.throws(() => historyWithLayers(config, {strict: true}), /too many non-empty layers in History section/);
  });

  test('empty_layer absent and false both take a layer', () => {
    const rows = historyWithLayers(configWith([A, B], [{created_by: 'a'}, {created_by: 'b', empty_layer: false}]));
    assert.deepEqual(rows.map(row => row.layerIndex), [0, 1]);
  });
});
