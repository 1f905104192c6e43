/**
 * The console sign-in of the first account: a generated password, hashed into the store, and
 * written once in clear beside ovh.conf (`console-login.txt`, mode 0600) so the person who
 * started mks can sign in. `mks admin account password` sets another one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AuthStore } from './auth.store.ts';
import { generatePassword, hashPassword, passwordProblem } from './passwords.ts';

export const CONSOLE_LOGIN_FILE = 'console-login.txt';

/** Gives `accountId` a generated password and writes how to sign in; returns the file. */
export async function writeConsoleLogin(
  store: AuthStore,
  accountId: string,
  dataDir: string,
  publicUrl: string,
): Promise<string> {
  const password = generatePassword();
  await store.setPasswordHash(accountId, await hashPassword(password));
  const file = path.join(dataDir, CONSOLE_LOGIN_FILE);
  const console = `${publicUrl.replace(/\/1\.0$/, '')}/`;
  const text = [
    `# Written by mks on first start: sign in to the web console at ${console}`,
    `# (change the password with: mks admin account password --account ${accountId})`,
    `login=${accountId}`,
    `password=${password}`,
    '',
  ].join('\n');
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

/**
 * `mks admin account create|password`: sets the password read from `stdin` (first line), or a
 * generated one, which is returned so the command can show it once.
 */
export async function setConsolePassword(
  store: AuthStore,
  accountId: string,
  stdin: NodeJS.ReadableStream | undefined,
): Promise<{ generated: string | undefined }> {
  let password: string | undefined;
  if (stdin !== undefined) {
    let text = '';
    for await (const chunk of stdin) text += chunk.toString();
    password = text.split(/\r?\n/, 1)[0] ?? '';
    const problem = passwordProblem(password);
    if (problem !== undefined) throw new Error(`--password-stdin: ${problem}`);
  }
  const chosen = password ?? generatePassword();
  if (!(await store.setPasswordHash(accountId, await hashPassword(chosen)))) {
    throw new Error(`no account '${accountId}'`);
  }
  return { generated: password === undefined ? chosen : undefined };
}
