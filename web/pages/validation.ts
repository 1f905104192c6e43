/**
 * OVH's validation page, at the `validationUrl` mks returns (`/auth/?credentialToken=…`): who
 * asks for what, then sign in, choose a validity (24 h by default) and allowed IPs, and Authorize
 * or Refuse. The browser then goes to the application's `redirection`, or a confirmation.
 */
import {
  accountFields,
  field,
  h,
  ipList,
  notice,
  postForm,
  selectedValidity,
  validitySelect,
} from '../dom.ts';
import type { PageContext } from '../main.ts';
import { rulesList } from './rules.ts';

interface Lookup {
  state: string;
  application: { name: string; description: string };
  rules: { method: string; path: string }[];
  redirection: string | null;
}

export async function validationPage({ main }: PageContext): Promise<void> {
  const credentialToken = new URLSearchParams(location.search).get('credentialToken') ?? '';
  main.append(h('h1', {}, 'Authorize an application'));
  if (credentialToken === '') {
    main.append(
      notice(
        'error',
        'This address has no credentialToken: open the validationUrl the application gave you.',
      ),
    );
    return;
  }
  let lookup: Lookup;
  try {
    lookup = await postForm<Lookup>('/console/api/validation/lookup', { credentialToken });
  } catch (error) {
    main.append(notice('error', (error as Error).message));
    return;
  }
  main.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'request-title' },
      h('h2', { id: 'request-title' }, `${lookup.application.name} asks for access to your account`),
      lookup.application.description === '' ? null : h('p', {}, lookup.application.description),
      h('p', {}, 'Rights requested:'),
      rulesList(lookup.rules, 'Rights requested'),
      h(
        'p',
        { class: 'hint' },
        lookup.redirection === null
          ? 'After your decision this page confirms it.'
          : `After your decision you go to ${lookup.redirection}`,
      ),
    ),
  );
  if (lookup.state !== 'pendingValidation') {
    main.append(
      notice(
        'error',
        lookup.state === 'expired'
          ? 'This request has expired: ask the application for a new one.'
          : `This request is already ${lookup.state}.`,
      ),
    );
    return;
  }
  const { login, password, fields: account } = accountFields();
  const validity = validitySelect(86_400);
  const ips = h('textarea', { name: 'allowedIPs', rows: 2, spellcheck: 'false' });
  const status = h('div', {});
  const authorize = h('button', { type: 'submit', value: 'authorize' }, 'Authorize');
  const refuse = h('button', { type: 'submit', value: 'refuse', class: 'danger' }, 'Refuse');
  const form = h(
    'form',
    { class: 'card narrow', 'aria-label': 'Your decision' },
    account,
    field('Validity', validity, 'How long the key works; OVH’s default is 24 hours.'),
    field('Allowed IPs (optional)', ips, 'Addresses or CIDR blocks, one per line; empty: any address.'),
    status,
    h('div', { class: 'actions' }, authorize, refuse),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const decision =
      ((event as SubmitEvent).submitter as HTMLButtonElement | null)?.value === 'refuse'
        ? 'refuse'
        : 'authorize';
    authorize.disabled = true;
    refuse.disabled = true;
    try {
      const result = await postForm<{ state: string; redirection: string | null }>(
        '/console/api/validation',
        {
          credentialToken,
          login: login.value.trim(),
          password: password.value,
          decision,
          validity: selectedValidity(validity),
          allowedIPs: ipList(ips.value),
        },
      );
      password.value = '';
      if (result.redirection !== null) {
        location.assign(result.redirection);
        return;
      }
      form.replaceWith(
        notice(
          'ok',
          result.state === 'validated'
            ? `${lookup.application.name} is authorized. You can close this page.`
            : `${lookup.application.name} was refused. Its key will not work.`,
        ),
      );
    } catch (error) {
      status.replaceChildren(notice('error', (error as Error).message));
      authorize.disabled = false;
      refuse.disabled = false;
    }
  });
  main.append(form);
  login.focus();
}
