/** An emulated cluster's objects in memory only: no store, no controllers, no watchers' hooks. */
import { ObjectStore } from '../../src/emulator/apiserver/object-store.ts';

export function memoryCluster(version = '1.32'): ObjectStore {
  return new ObjectStore(
    { id: 'c', version, nodeCount: 1, resourceVersion: 0, busy: false, createdAt: 'T' },
    {
      persistObject: () => {},
      persistMeta: () => {},
      persistLog: () => {},
      loadDeferred: () => {},
      onChange: () => {},
      now: () => new Date(0),
    },
  );
}
