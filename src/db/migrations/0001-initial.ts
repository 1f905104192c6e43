import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  // The only engine difference in DDL: how an auto-incremented integer key is spelled.
  const autoId = (table: ReturnType<Kysely<unknown>['schema']['createTable']>) =>
    engine === 'postgres'
      ? table.addColumn('id', 'serial', (column) => column.primaryKey())
      : // A plain INTEGER PRIMARY KEY is SQLite's rowid: ids still grow; AUTOINCREMENT would add a
        // sqlite_sequence write to every insert, for a guarantee (no reuse after deletes) not needed here.
        table.addColumn('id', 'integer', (column) => column.primaryKey());

  await db.schema
    .createTable('accounts')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('email', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('projects')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('account_id', 'text', (column) => column.notNull().references('accounts.id'))
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('description', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .execute();
  await db.schema.createIndex('projects_account').on('projects').column('account_id').execute();

  await autoId(db.schema.createTable('applications'))
    .addColumn('account_id', 'text', (column) => column.notNull().references('accounts.id'))
    .addColumn('app_key', 'text', (column) => column.notNull().unique())
    .addColumn('secret_enc', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('description', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .execute();

  await autoId(db.schema.createTable('credentials'))
    .addColumn('application_id', 'integer', (column) => column.notNull().references('applications.id'))
    .addColumn('account_id', 'text', (column) => column.references('accounts.id'))
    .addColumn('ck_hash', 'text', (column) => column.notNull().unique())
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('rules', 'text', (column) => column.notNull())
    .addColumn('redirection', 'text')
    .addColumn('validation_token_hash', 'text', (column) => column.unique())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('last_use', 'text')
    .execute();

  await db.schema
    .createTable('clusters')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('project_id', 'text', (column) => column.notNull().references('projects.id'))
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('region', 'text', (column) => column.notNull())
    .addColumn('version', 'text', (column) => column.notNull())
    .addColumn('update_policy', 'text', (column) => column.notNull())
    .addColumn('kube_proxy_mode', 'text', (column) => column.notNull())
    .addColumn('customization', 'text', (column) => column.notNull())
    .addColumn('node_count', 'integer', (column) => column.notNull())
    .addColumn('plan', 'text', (column) => column.notNull())
    .addColumn('private_network_id', 'text')
    .addColumn('nodes_subnet_id', 'text')
    .addColumn('load_balancers_subnet_id', 'text')
    .addColumn('private_network_configuration', 'text')
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('status_message', 'text')
    .addColumn('generation', 'integer', (column) => column.notNull())
    .addColumn('observed_generation', 'integer', (column) => column.notNull())
    .addColumn('token_epoch', 'integer', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addColumn('deleted_at', 'text')
    .execute();
  await db.schema
    .createIndex('clusters_project')
    .on('clusters')
    .columns(['project_id', 'created_at'])
    .execute();

  await autoId(db.schema.createTable('cluster_history'))
    .addColumn('cluster_id', 'text', (column) => column.notNull().references('clusters.id'))
    .addColumn('generation', 'integer', (column) => column.notNull())
    .addColumn('action', 'text', (column) => column.notNull())
    .addColumn('kube_proxy_mode', 'text', (column) => column.notNull())
    .addColumn('version', 'text', (column) => column.notNull())
    .addColumn('customization', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .execute();
  await db.schema
    .createIndex('cluster_history_cluster')
    .on('cluster_history')
    .columns(['cluster_id', 'id'])
    .execute();
}
