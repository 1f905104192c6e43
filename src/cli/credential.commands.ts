/**
 * `mks credential list|revoke`: the account's API keys (consumer keys) through OVH's
 * `/me/api/credential` calls, like the console's credentials page.
 */
import { type Command, Option } from 'commander';
import type { ApiApplication, ApiCredential } from '../auth/credentials.store.ts';
import { CREDENTIAL_STATES } from '../auth/credentials.store.ts';
import {
  action,
  type CommonOptions,
  createContext,
  usageError,
  withConnection,
  withOutput,
} from './cli-context.ts';
import { render, table } from './output.ts';

type Listed = ApiCredential & { application: Pick<ApiApplication, 'name' | 'applicationKey'> | null };

export function registerCredentialCommands(program: Command): void {
  const group = program
    .command('credential')
    .description("the account's API keys (consumer keys): list, revoke")
    .addHelpText(
      'after',
      '\nExamples:\n  mks credential list\n  mks credential list --status validated -o json\n  mks credential revoke 42',
    );

  withOutput(withConnection(group.command('list').description("list the account's API keys")))
    .addOption(new Option('--status <state>', 'only keys in this state').choices(CREDENTIAL_STATES))
    .option('--application <id>', 'only keys of this application id')
    .addHelpText(
      'after',
      '\nExamples:\n  mks credential list\n  mks credential list --status expired -q\n  mks credential list --application 3 -o yaml',
    )
    .action(
      action(async (options: CommonOptions & { status?: ApiCredential['status']; application?: string }) => {
        if (options.application !== undefined && !/^\d{1,15}$/.test(options.application)) {
          throw usageError(`--application: '${options.application}' is not an application id (a number)`);
        }
        const context = createContext(options);
        const { client } = context;
        const ids = await client.listCredentialIds({
          ...(options.status === undefined ? {} : { status: options.status }),
          ...(options.application === undefined ? {} : { applicationId: Number(options.application) }),
        });
        const credentials = await Promise.all(ids.map((id) => client.getCredential(id)));
        const applications = new Map<number, Listed['application']>();
        await Promise.all(
          [...new Set(credentials.map((credential) => credential.applicationId))].map(async (id) => {
            const application = await client.getApplication(id).catch(() => null);
            applications.set(
              id,
              application && { name: application.name, applicationKey: application.applicationKey },
            );
          }),
        );
        const listed: Listed[] = credentials.map((credential) => ({
          ...credential,
          application: applications.get(credential.applicationId) ?? null,
        }));
        context.io.stdout(
          render(
            {
              data: listed,
              ids: listed.map((credential) => String(credential.credentialId)),
              table: () =>
                table(
                  ['id', 'application', 'status', 'rules', 'expires', 'last use', 'allowed ips', 'origin'],
                  listed.map((credential) => [
                    String(credential.credentialId),
                    credential.application?.name ?? String(credential.applicationId),
                    credential.status,
                    credential.rules.map((rule) => `${rule.method} ${rule.path}`).join(', '),
                    credential.expiration ?? 'never',
                    credential.lastUse ?? '-',
                    credential.allowedIPs?.join(',') ?? 'any',
                    credential.origin ?? '-',
                  ]),
                ),
            },
            context.format,
            context.quiet,
          ),
        );
      }),
    );

  withConnection(
    group
      .command('revoke')
      .description('revoke API keys: their next call is refused')
      .argument('<id...>', 'credential ids (from `mks credential list`)'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  mks credential revoke 42\n  mks credential list --status expired -q | xargs mks credential revoke',
    )
    .action(
      action(async (ids: string[], options: CommonOptions) => {
        const bad = ids.filter((id) => !/^\d{1,15}$/.test(id));
        if (bad.length > 0) throw usageError(`not a credential id (a number): ${bad.join(', ')}`);
        const context = createContext(options);
        for (const id of ids) {
          await context.client.revokeCredential(Number(id));
          context.io.stdout(`credential ${id} revoked\n`);
        }
      }),
    );
}
