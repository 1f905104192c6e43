/** What the work queue does the same way on every engine: the lease owner, renewing, forgetting. */
import type { Database } from '../db/database.ts';
import type { Claim, WorkQueue, WorkQueueOptions } from './work-queue.ts';

export abstract class CommonWorkQueue<D extends Database> implements WorkQueue {
  protected readonly database: D;
  protected readonly options: WorkQueueOptions;

  constructor(database: D, options: WorkQueueOptions) {
    this.database = database;
    this.options = options;
  }

  get owner(): string {
    return this.options.owner;
  }

  abstract claim(limit: number): Promise<Claim[]>;

  abstract release(claim: Claim, afterMs: number, attempts?: number): Promise<void>;

  async renew(clusterId: string): Promise<boolean> {
    const result = await this.database.db
      .updateTable('reconcile_work')
      .set({ lease_expires_at: Date.now() + this.options.leaseMs })
      .where('cluster_id', '=', clusterId)
      .where('lease_owner', '=', this.options.owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async forget(clusterId: string): Promise<void> {
    await this.database.db.deleteFrom('reconcile_work').where('cluster_id', '=', clusterId).execute();
  }
}
