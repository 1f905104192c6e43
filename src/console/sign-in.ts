/**
 * Checks a login and password for the console's forms (sign-in, validation, createToken) and
 * slows down guessing: failures are counted per login and per client address over a window,
 * and past a threshold every attempt is refused until the window has passed, whether the
 * password is right or not. The answer never says which of login or password was wrong, and an
 * unknown login costs the same scrypt run as a known one, so timing does not tell either.
 *
 * The counts live in this process: on scale-out each API process keeps its own, which bounds a
 * guesser to `processes × threshold` tries per window (still far from a useful guessing rate).
 */

import type { AuthStore } from '../auth/auth.store.ts';
import { hashPassword, PASSWORD_MAX_LENGTH, verifyPassword } from '../auth/passwords.ts';
import { AppError } from '../errors.ts';

export const SIGN_IN_WINDOW_MS = 15 * 60 * 1000;
/** Failures allowed per login, and per address, within the window. */
export const MAX_FAILURES_PER_LOGIN = 5;
export const MAX_FAILURES_PER_ADDRESS = 20;

const WRONG = 'Invalid login or password';

export class SignInGuard {
  readonly #store: AuthStore;
  readonly #now: () => number;
  readonly #failures = new Map<string, number[]>();
  /** A hash to verify against when the login is unknown (same cost as a real check). */
  #decoy: Promise<string> | undefined;

  constructor(store: AuthStore, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  /** The account signed in as, or a 403 that says only that the pair is wrong (or too many tries). */
  async check(login: unknown, password: unknown, address: string): Promise<string> {
    const loginKey = `login:${typeof login === 'string' ? login.toLowerCase().slice(0, 200) : ''}`;
    const addressKey = `address:${address}`;
    const blockedFor = Math.max(
      this.#blockedFor(loginKey, MAX_FAILURES_PER_LOGIN),
      this.#blockedFor(addressKey, MAX_FAILURES_PER_ADDRESS),
    );
    if (blockedFor > 0) {
      throw new AppError(
        'Forbidden',
        `Too many failed sign-ins for this login or from this address; try again in ${Math.ceil(blockedFor / 60_000)} min`,
      );
    }
    const usable =
      typeof login === 'string' &&
      typeof password === 'string' &&
      login.length > 0 &&
      login.length <= 200 &&
      password.length > 0 &&
      password.length <= PASSWORD_MAX_LENGTH;
    const stored = usable ? await this.#store.passwordHash(login) : undefined;
    this.#decoy ??= hashPassword('decoy password, never matches');
    const matches = await verifyPassword(
      typeof password === 'string' ? password.slice(0, PASSWORD_MAX_LENGTH) : '',
      stored ?? (await this.#decoy),
    );
    if (!usable || stored == null || !matches) {
      this.#fail(loginKey);
      this.#fail(addressKey);
      throw new AppError('Forbidden', WRONG);
    }
    this.#failures.delete(loginKey);
    return login;
  }

  #recent(key: string): number[] {
    const since = this.#now() - SIGN_IN_WINDOW_MS;
    const times = (this.#failures.get(key) ?? []).filter((time) => time > since);
    if (times.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, times);
    return times;
  }

  #blockedFor(key: string, limit: number): number {
    const times = this.#recent(key);
    if (times.length < limit) return 0;
    return times[times.length - limit]! + SIGN_IN_WINDOW_MS - this.#now();
  }

  #fail(key: string): void {
    // Bounded memory under a flood of distinct logins: forget the oldest entries.
    if (this.#failures.size > 50_000) this.#failures.delete(this.#failures.keys().next().value!);
    this.#failures.set(key, [...this.#recent(key), this.#now()]);
  }
}
