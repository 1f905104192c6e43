/** Sign-in: login and password mint this tab's session key (see session.ts). */
import { accountFields, h, notice } from '../dom.ts';
import type { PageContext } from '../main.ts';
import { signIn } from '../session.ts';

export async function signInPage({ main, navigate }: PageContext): Promise<void> {
  const { login, password, fields: account } = accountFields();
  const status = h('div', {});
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in to mks'),
    h(
      'p',
      {},
      'Your login is your account id. On a new installation, `mks serve` wrote both in console-login.txt beside ovh.conf.',
    ),
    account,
    status,
    button,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    status.replaceChildren(notice('info', 'Signing in…'));
    try {
      await signIn(login.value.trim(), password.value);
      password.value = '';
      navigate(location.pathname === '/' ? '/console/clusters' : location.pathname);
    } catch (error) {
      status.replaceChildren(notice('error', (error as Error).message));
      button.disabled = false;
      password.focus();
    }
  });
  main.append(form);
  login.focus();
}
