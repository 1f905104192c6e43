/**
 * What the commands that open the store themselves (`serve`, `worker`, `migrate`, `admin …`)
 * share: the store options, and the server's modules, loaded only when such a command runs.
 */
import { type Command, Option } from 'commander';

// The server's modules (fastify, the store, the emulator) load only for the commands that use
// them: `mks api` and the operator commands then start in a fraction of the time.
export const serverModules = async () => {
  const [{ openDatabase }, { createLogger }, { openServices }, { startRuntime, startWorkerRuntime }] =
    await Promise.all([
      import('../db/database.ts'),
      import('../logger.ts'),
      import('../services.ts'),
      import('../server.ts'),
    ]);
  return { openDatabase, createLogger, openServices, startRuntime, startWorkerRuntime };
};

/** Adds `--data-dir`, `--database-url` and `--log-level` (each with its MKS_* variable). */
export function withStoreOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--data-dir <dir>', 'data directory (SQLite file, secret key, ovh.conf)').env(
        'MKS_DATA_DIR',
      ),
    )
    .addOption(
      new Option(
        '--database-url <url>',
        'postgres://… for scale-out (default: SQLite in the data directory)',
      ).env('MKS_DATABASE_URL'),
    )
    .addOption(
      new Option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent').env(
        'MKS_LOG_LEVEL',
      ),
    );
}
