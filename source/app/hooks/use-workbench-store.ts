import {useCallback, useRef, useState} from 'react';
import {reduce, type WorkbenchAction, type WorkbenchState} from '../state/workbench.js';

/**
 * The reducer's state with a synchronous view of the latest value: key handlers read `current()` so that two
 * keys arriving in one tick both see the state the first one produced.
 */
export function useWorkbenchStore(initial: () => WorkbenchState): {
  state: WorkbenchState;
  current: () => WorkbenchState;
  dispatch: (...actions: WorkbenchAction[]) => void;
} {
  const [state, setState] = useState(initial);
  const ref = useRef(state);
  const dispatch = useCallback((...actions: WorkbenchAction[]) => {
    let next = ref.current;
    for (const action of actions) next = reduce(next, action);
    if (next === ref.current) return;
    ref.current = next;
    setState(next);
  }, []);
  const current = useCallback(() => ref.current, []);
  return {state, current, dispatch};
}
