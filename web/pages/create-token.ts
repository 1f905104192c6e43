/**
 * OVH's createToken page: an application and its consumer key at once, for scripts and
 * Terraform. The address pre-fills the rights as OVH's does (`?GET=/*&POST=/*`, repeated keys,
 * and the bare `?GET=*` the OVH CLI prints); the keys are shown once, with copy buttons and
 * snippets for this endpoint.
 */
import {
  accountFields,
  clear,
  copyable,
  field,
  h,
  ipList,
  notice,
  postForm,
  selectedValidity,
  validitySelect,
} from '../dom.ts';
import type { PageContext } from '../main.ts';
import { endpoint } from '../session.ts';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;

interface Rule {
  method: string;
  path: string;
}

/** Rights from the query string, and what could not be read there. */
export function rulesFromQuery(search: string): { rules: Rule[]; problems: string[] } {
  const rules: Rule[] = [];
  const problems: string[] = [];
  for (const [key, value] of new URLSearchParams(search)) {
    const method = key.toUpperCase();
    if (!(METHODS as readonly string[]).includes(method)) {
      problems.push(`“${key}” in the address is not a method rules know (GET, POST, PUT, DELETE): left out`);
      continue;
    }
    // `*` alone (the OVH CLI's form) means every path, like `/*`.
    const path = value === '' || value === '*' ? '/*' : value.startsWith('/') ? value : `/${value}`;
    rules.push({ method, path });
  }
  return { rules, problems };
}

export async function createTokenPage({ main }: PageContext): Promise<void> {
  const { rules: prefilled, problems } = rulesFromQuery(location.search);
  main.append(h('h1', {}, 'Create API keys'));
  main.append(
    h(
      'p',
      {},
      'An application key, its secret and a consumer key, all at once, for a script or Terraform. They are shown once.',
    ),
  );
  for (const problem of problems) main.append(notice('error', problem));

  const { login, password, fields: account } = accountFields();
  const name = h('input', { name: 'name', required: true, maxlength: 100 });
  const description = h('input', { name: 'description', maxlength: 500 });
  const validity = validitySelect(86_400);
  const ips = h('textarea', { name: 'allowedIPs', rows: 2, spellcheck: 'false' });
  const rights = h('fieldset', { class: 'rights' }, h('legend', {}, 'Rights'));
  const rows = h('div', {});
  const addRow = (rule: Rule) => {
    const index = rows.children.length + 1;
    const method = h('select', { 'aria-label': `Method of right ${index}` });
    for (const value of METHODS)
      method.append(h('option', { value, selected: value === rule.method }, value));
    const path = h('input', {
      'aria-label': `Path of right ${index}`,
      value: rule.path,
      required: true,
      maxlength: 1024,
      spellcheck: 'false',
    });
    const row = h('div', { class: 'right' }, method, path);
    row.append(
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'aria-label': `Remove right ${index}`,
          onclick: () => row.remove(),
        },
        'Remove',
      ),
    );
    rows.append(row);
  };
  for (const rule of prefilled.length === 0 ? [{ method: 'GET', path: '/*' }] : prefilled) addRow(rule);
  rights.append(
    rows,
    h(
      'button',
      { type: 'button', class: 'secondary', onclick: () => addRow({ method: 'GET', path: '/*' }) },
      'Add a right',
    ),
    h(
      'p',
      { class: 'hint' },
      '* matches any run of characters, / included: /cloud/project/* covers every project call.',
    ),
  );
  const status = h('div', {});
  const submit = h('button', { type: 'submit' }, 'Create keys');
  const form = h(
    'form',
    { class: 'card', 'aria-label': 'New API keys' },
    account,
    field('Application name', name),
    field('Application description', description),
    field('Validity', validity),
    rights,
    field('Allowed IPs (optional)', ips, 'Addresses or CIDR blocks, one per line; empty: any address.'),
    status,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    const rules = [...rows.children].map((row) => ({
      method: (row.querySelector('select') as HTMLSelectElement).value,
      path: (row.querySelector('input') as HTMLInputElement).value.trim(),
    }));
    try {
      const keys = await postForm<{
        applicationKey: string;
        applicationSecret: string;
        consumerKey: string;
        expiration: string | null;
      }>('/console/api/token', {
        login: login.value.trim(),
        password: password.value,
        name: name.value.trim(),
        description: description.value,
        validity: selectedValidity(validity),
        rules,
        allowedIPs: ipList(ips.value),
      });
      password.value = '';
      clear(main, ...result(keys));
      main.querySelector('h1')?.focus();
    } catch (error) {
      status.replaceChildren(notice('error', (error as Error).message));
      submit.disabled = false;
    }
  });
  main.append(form);
  login.focus();
}

function result(keys: {
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
  expiration: string | null;
}): HTMLElement[] {
  const url = endpoint();
  const env = [
    `export OVH_ENDPOINT=${url}`,
    `export OVH_APPLICATION_KEY=${keys.applicationKey}`,
    `export OVH_APPLICATION_SECRET=${keys.applicationSecret}`,
    `export OVH_CONSUMER_KEY=${keys.consumerKey}`,
  ].join('\n');
  const conf = [
    '[default]',
    `endpoint=${url}`,
    '',
    `[${url}]`,
    `application_key=${keys.applicationKey}`,
    `application_secret=${keys.applicationSecret}`,
    `consumer_key=${keys.consumerKey}`,
  ].join('\n');
  const terraform = [
    'provider "ovh" {',
    `  endpoint           = "${url}"`,
    `  application_key    = "${keys.applicationKey}"`,
    `  application_secret = "${keys.applicationSecret}"`,
    `  consumer_key       = "${keys.consumerKey}"`,
    '}',
  ].join('\n');
  return [
    h('h1', { tabindex: '-1' }, 'Your API keys'),
    notice(
      'info',
      `Shown only once: copy them now. ${keys.expiration === null ? 'They do not expire.' : `They expire on ${new Date(keys.expiration).toLocaleString()}.`}`,
    ),
    h(
      'section',
      { class: 'card', 'aria-label': 'Keys' },
      copyable('Application key', keys.applicationKey),
      copyable('Application secret', keys.applicationSecret),
      copyable('Consumer key', keys.consumerKey),
    ),
    h(
      'section',
      { class: 'card', 'aria-label': 'Snippets' },
      h('h2', {}, 'Ready to paste'),
      copyable('Environment variables', env, true),
      copyable('ovh.conf', conf, true),
      copyable('Terraform provider block', terraform, true),
    ),
  ];
}
