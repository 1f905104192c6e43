/**
 * Every API key of the account (OVH's `/me/api/credential`): application, rights, state,
 * validity, expiry, last use, allowed IPs and origin, with revoke.
 */
import type { ApiApplication, ApiCredential } from '../../src/auth/credentials.store.ts';
import { formatDate, h, notice } from '../dom.ts';
import type { PageContext } from '../main.ts';
import { clientFor, type Session } from '../session.ts';
import { rulesList } from './rules.ts';

export async function credentialsPage({ main }: PageContext, session: Session): Promise<void> {
  const client = clientFor(session);
  main.append(h('h1', {}, 'Credentials'));
  const status = h('div', {});
  main.append(status);
  const [ids, current] = await Promise.all([
    client.listCredentialIds(),
    client.api.call<{ credentialId: number }>('GET', '/auth/currentCredential'),
  ]);
  const credentials = await Promise.all(ids.map((id) => client.getCredential(id)));
  const applications = new Map<number, ApiApplication | undefined>();
  await Promise.all(
    [...new Set(credentials.map((credential) => credential.applicationId))].map(async (id) => {
      applications.set(id, await client.getApplication(id).catch(() => undefined));
    }),
  );
  const showExpired = h('input', { type: 'checkbox', id: 'show-expired' });
  const table = h(
    'table',
    {},
    h('caption', { class: 'visually-hidden' }, 'API keys of this account'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        [
          'Id',
          'Application',
          'State',
          'Rights',
          'Created',
          'Expires',
          'Last use',
          'Allowed IPs',
          'Origin',
          'Actions',
        ].map((title) => h('th', { scope: 'col' }, title)),
      ),
    ),
  );
  const body = h('tbody', {});
  table.append(body);
  const rows: [ApiCredential, HTMLTableRowElement][] = credentials
    .sort((a, b) => b.credentialId - a.credentialId)
    .map((credential) => [credential, row(credential)]);
  function row(credential: ApiCredential): HTMLTableRowElement {
    const application = applications.get(credential.applicationId);
    const revoke = h('button', { type: 'button', class: 'danger' }, `Revoke key ${credential.credentialId}`);
    const cell = h('td', {}, revoke);
    revoke.addEventListener('click', () => {
      const confirm = h(
        'button',
        { type: 'button', class: 'danger' },
        `Confirm revoking key ${credential.credentialId}`,
      );
      const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
      cell.replaceChildren(confirm, cancel);
      confirm.focus();
      cancel.addEventListener('click', () => {
        cell.replaceChildren(revoke);
        revoke.focus();
      });
      confirm.addEventListener('click', async () => {
        try {
          await client.revokeCredential(credential.credentialId);
          tr.remove();
          status.replaceChildren(
            notice('ok', `Key ${credential.credentialId} revoked: its next call is refused.`),
          );
        } catch (error) {
          status.replaceChildren(notice('error', (error as Error).message));
        }
      });
    });
    const tr = h(
      'tr',
      { 'data-state': credential.status },
      h('td', {}, String(credential.credentialId)),
      h(
        'td',
        {},
        application?.name ?? String(credential.applicationId),
        credential.credentialId === current.credentialId
          ? h('span', { class: 'hint' }, ' (this session)')
          : null,
      ),
      h('td', {}, h('span', { class: `state state-${credential.status}` }, credential.status)),
      h('td', {}, rulesList(credential.rules, `Rights of key ${credential.credentialId}`)),
      h('td', {}, formatDate(credential.creation)),
      h('td', {}, formatDate(credential.expiration)),
      h('td', {}, formatDate(credential.lastUse, '—')),
      h('td', {}, credential.allowedIPs?.join(', ') ?? 'any'),
      h('td', {}, credential.origin ?? '—'),
      cell,
    );
    return tr;
  }
  const refresh = () => {
    body.replaceChildren(
      ...rows
        .filter(
          ([credential]) =>
            showExpired.checked ||
            credential.status === 'validated' ||
            credential.status === 'pendingValidation',
        )
        .map(([, tr]) => tr),
    );
  };
  showExpired.addEventListener('change', refresh);
  refresh();
  main.append(
    h(
      'div',
      { class: 'field inline' },
      showExpired,
      h('label', { for: 'show-expired' }, 'Show expired and refused keys'),
    ),
    h('div', { class: 'table-wrap' }, table),
  );
}
