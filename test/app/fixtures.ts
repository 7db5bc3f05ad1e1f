/**
 * Plain engine-shaped values for the pure reducer tests (no engine needed to fold actions). Component and
 * end-to-end tests use a real engine over a temp store instead (helpers.ts).
 */
import type {FileTreeNode, HistoryRow, ImageSummary, LayerInfo} from '../../engine/index.js';

export function image(partial: Partial<ImageSummary> & {id: string}): ImageSummary {
  const repository = partial.repository ?? '<none>';
  const tag = partial.tag ?? '<none>';
  return {
    repository,
    tag,
    repoTags: repository === '<none>' ? [] : [`${repository}:${tag}`],
    digest: 'sha256:' + 'd'.repeat(64),
    size: 1000,
    labels: {},
    dangling: repository === '<none>',
    children: [],
    containers: [],
    created: '2026-11-22T10:00:00Z',
    ...partial,
  };
}

export const hex = (char: string): string => 'sha256:' + char.repeat(64);

export function historyOf(steps: {createdBy: string; size: number; empty?: boolean}[]): {history: HistoryRow[]; layers: LayerInfo[]} {
  const layers: LayerInfo[] = [];
  const rows: HistoryRow[] = [];
  for (const step of steps) {
    const layerIndex = step.empty ? undefined : layers.length;
    if (layerIndex !== undefined) {
      layers.push({index: layerIndex, diffId: hex(String(layerIndex)), digest: hex(String(layerIndex)), mediaType: 'application/vnd.oci.image.layer.v1.tar', size: step.size, createdBy: step.createdBy});
    }
    rows.push({id: '<missing>', createdBy: step.createdBy, comment: '', size: step.empty ? 0 : step.size, emptyLayer: !!step.empty, layerIndex, created: '2026-11-22T10:00:00Z'});
  }
  return {history: rows.reverse(), layers};
}

type Spec = {[name: string]: number | 'removed' | Spec | ['modified' | 'added' | 'unchanged', number | Spec]};

/** A tree from a nested object: numbers are added files of that size, objects are folders. */
export function tree(spec: Spec, parent = '', status: FileTreeNode['status'] = 'added'): FileTreeNode {
  const children: FileTreeNode[] = Object.entries(spec).map(([name, value]) => {
    const path = `${parent}/${name}`;
    if (Array.isArray(value)) {
      const [childStatus, inner] = value;
      if (typeof inner === 'number') return {name, path, type: 'file', size: inner, status: childStatus};
      return {...tree(inner, path, childStatus), name, path};
    }
    if (value === 'removed') return {name, path, type: 'file', size: 0, status: 'removed'};
    if (typeof value === 'number') return {name, path, type: 'file', size: value, status};
    return {...tree(value, path, status), name, path};
  });
  return {name: parent.split('/').pop() || '/', path: parent || '/', type: 'dir', size: 0, status: parent ? status : 'unchanged', children};
}
