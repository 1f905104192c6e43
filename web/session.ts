/**
 * The signed-in session: the account's console application and a consumer key minted through
 * OVH's own flow (POST /auth/credential, then the validation call the validation page makes),
 * scoped to this console and valid 8 hours. It lives in sessionStorage (this tab only, gone when
 * the tab closes) and is expired with POST /auth/logout on sign-out.
 */
import { ApiClient } from '../src/client/api-client.ts';
import { MksClient } from '../src/client/mks-client.ts';
import { postForm } from './dom.ts';

export interface Session {
  readonly accountId: string;
  readonly applicationKey: string;
  readonly applicationSecret: string;
  readonly consumerKey: string;
  readonly rules: { method: string; path: string }[];
}

const KEY = 'mks.session';
export const SESSION_VALIDITY_SECONDS = 8 * 3600;
/** What the console asks for: the whole API, for the signed-in account only and for 8 hours. */
const CONSOLE_RULES = ['GET', 'POST', 'PUT', 'DELETE'].map((method) => ({ method, path: '/*' }));

export const endpoint = (): string => `${location.origin}/1.0`;

export function currentSession(): Session | undefined {
  const text = sessionStorage.getItem(KEY);
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as Session;
  } catch {
    sessionStorage.removeItem(KEY);
    return undefined;
  }
}

export function clientFor(session: Session): MksClient {
  return new MksClient(
    new ApiClient({
      endpoint: endpoint(),
      applicationKey: session.applicationKey,
      applicationSecret: session.applicationSecret,
      consumerKey: session.consumerKey,
    }),
  );
}

export async function signIn(login: string, password: string): Promise<Session> {
  const application = await postForm<{
    accountId: string;
    applicationKey: string;
    applicationSecret: string;
  }>('/console/api/sign-in', { login, password });
  const requested = await fetch(`${endpoint()}/auth/credential`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Ovh-Application': application.applicationKey },
    body: JSON.stringify({ accessRules: CONSOLE_RULES, redirection: null }),
  });
  const credential = (await requested.json()) as {
    consumerKey: string;
    validationUrl: string;
    message?: string;
  };
  if (!requested.ok) throw new Error(credential.message ?? `HTTP ${requested.status}`);
  const credentialToken = new URL(credential.validationUrl).searchParams.get('credentialToken') ?? '';
  await postForm('/console/api/validation', {
    credentialToken,
    login,
    password,
    decision: 'authorize',
    validity: SESSION_VALIDITY_SECONDS,
  });
  const session: Session = {
    accountId: application.accountId,
    applicationKey: application.applicationKey,
    applicationSecret: application.applicationSecret,
    consumerKey: credential.consumerKey,
    rules: CONSOLE_RULES,
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export async function signOut(): Promise<void> {
  const session = currentSession();
  sessionStorage.removeItem(KEY);
  if (session !== undefined) {
    try {
      await clientFor(session).logout();
    } catch {
      // Already expired or revoked: nothing left to expire.
    }
  }
}
