/**
 * Projects (OVH "service names"). Ownership never changes once a project exists, so the
 * account owning a project is cached after the first read: every project-scoped call checks it.
 */

import crypto from 'node:crypto';
import { BoundedMap } from '../bounded-map.ts';
import type { Database } from '../db/database.ts';

export interface Project {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
}

/** Most projects kept in memory (a project-scoped call reads its project when not held). */
const MAX_CACHED_PROJECTS = 10_000;

export class ProjectStore {
  readonly #database: Database;
  readonly #byId = new BoundedMap<string, Project>(MAX_CACHED_PROJECTS);

  /** Keeps a project in memory, within MAX_CACHED_PROJECTS (past it the cache starts over). */
  #remember(project: Project): void {
    this.#byId.set(project.id, project);
  }

  constructor(database: Database) {
    this.#database = database;
  }

  async create(input: { accountId: string; name: string; description?: string }): Promise<Project> {
    const project: Project = Object.freeze({
      id: crypto.randomBytes(16).toString('hex'),
      accountId: input.accountId,
      name: input.name,
      description: input.description ?? input.name,
      createdAt: new Date().toISOString(),
    });
    await this.#database.db
      .insertInto('projects')
      .values({
        id: project.id,
        account_id: project.accountId,
        name: project.name,
        description: project.description,
        created_at: project.createdAt,
      })
      .execute();
    this.#remember(project);
    return project;
  }

  /** The project if it is cached (a project-scoped call's hot path; `get` reads it otherwise). */
  cached(id: string): Project | undefined {
    return this.#byId.get(id);
  }

  async get(id: string): Promise<Project | undefined> {
    const cached = this.#byId.get(id);
    if (cached !== undefined) return cached;
    const row = await this.#database.db
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const project: Project = Object.freeze({
      id: row.id,
      accountId: row.account_id,
      name: row.name,
      description: row.description,
      createdAt: row.created_at,
    });
    this.#remember(project);
    return project;
  }

  async listIds(accountId: string): Promise<string[]> {
    const rows = await this.#database.db
      .selectFrom('projects')
      .select('id')
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => row.id);
  }
}
