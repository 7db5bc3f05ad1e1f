import {test} from 'node:test';
import assert from 'node:assert/strict';
import {layerRows} from '../../../source/app/state/workbench.js';
import type {HistoryRow, LayerInfo} from '../../../engine/index.js';

const layer = (index: number): LayerInfo => ({index, diffId: `sha256:${String(index).repeat(64)}`, digest: `sha256:${String(index).repeat(64)}`, mediaType: 'application/vnd.oci.image.layer.v1.tar', size: 10});

test('an imported layer without an instruction shows where it came from; buildkit comments stay out', () => {
  const history: HistoryRow[] = [
    {id: 'sha256:top', createdBy: 'COPY a /a # buildkit', comment: 'buildkit.dockerfile.v0', size: 10, emptyLayer: false, layerIndex: 1},
    {id: '<missing>', createdBy: '', comment: 'Imported from base.tar', size: 10, emptyLayer: false, layerIndex: 0},
  ];
  const rows = layerRows(history, [layer(0), layer(1)]);
  assert.deepEqual(rows.map(row => row.instruction), ['# Imported from base.tar', 'COPY a /a']);
  assert.deepEqual(rows.map(row => row.layerIndex), [0, 1]);
});
