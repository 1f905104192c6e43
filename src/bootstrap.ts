/**
 * First start of the embedded default: an account, a project and full-rights credentials, written
 * to `<dataDir>/ovh.conf` (mode 0600) where the CLI, go-ovh and the Terraform provider find them.
 * Later starts keep everything; if the endpoint moved (another --listen), ovh.conf follows it.
 */
import path from 'node:path';
import { FULL_ACCESS } from './auth/access-rules.ts';
import { writeConsoleLogin } from './auth/console-login.ts';
import { readOvhConf, writeOvhConf } from './client/ovh-conf.ts';
import type { Services } from './services.ts';

export interface BootstrapResult {
  readonly file: string;
  readonly created: boolean;
  readonly projectId: string | undefined;
  /** Where the first start wrote the console's login and password (only on that start). */
  readonly consoleLoginFile?: string;
}

export async function bootstrap(services: Services): Promise<BootstrapResult> {
  const { config } = services;
  const file = path.join(config.dataDir, 'ovh.conf');
  if (await services.authStore.hasAccounts()) {
    const existing = readOvhConf(file);
    if (
      existing?.endpoint !== undefined &&
      existing.endpoint !== config.publicUrl &&
      existing.applicationKey !== undefined &&
      existing.applicationSecret !== undefined &&
      existing.consumerKey !== undefined
    ) {
      writeOvhConf(file, { ...(existing as Required<typeof existing>), endpoint: config.publicUrl });
    }
    return { file, created: false, projectId: undefined };
  }

  const accountId = await services.authStore.createAccount({ email: null });
  const project = await services.projects.create({
    accountId,
    name: 'default',
    description: 'Default project',
  });
  const application = await services.authStore.createApplication({
    accountId,
    name: 'mks-default',
    description: 'Created by mks on first start',
  });
  const { consumerKey } = await services.authStore.createCredential({
    applicationId: application.id,
    accountId,
    rules: FULL_ACCESS,
    status: 'validated',
    origin: 'bootstrap',
  });
  const consoleLoginFile = await writeConsoleLogin(
    services.authStore,
    accountId,
    config.dataDir,
    config.publicUrl,
  );
  writeOvhConf(file, {
    endpoint: config.publicUrl,
    applicationKey: application.appKey,
    applicationSecret: application.secret,
    consumerKey,
  });
  return { file, created: true, projectId: project.id, consoleLoginFile };
}
