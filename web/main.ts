/**
 * The console's entry: one page shell, routed by address. OVH's addresses are kept as OVH's
 * clients and guides use them (`/auth/?credentialToken=…`, `/createToken/?GET=/*`); the rest
 * lives under `/console/`.
 */
import './app.css';
import { ApiError } from '../src/client/api-client.ts';
import { clear, h, notice } from './dom.ts';
import { clusterPage, clustersPage } from './pages/clusters.ts';
import { createTokenPage } from './pages/create-token.ts';
import { credentialsPage } from './pages/credentials.ts';
import { explorerPage } from './pages/explorer.ts';
import { signInPage } from './pages/sign-in.ts';
import { validationPage } from './pages/validation.ts';
import { currentSession, type Session, signOut } from './session.ts';

export interface PageContext {
  readonly main: HTMLElement;
  readonly session: Session | undefined;
  /** Goes to another console address without reloading. */
  navigate(path: string): void;
}

const NAV: [string, string][] = [
  ['/console/clusters', 'Clusters'],
  ['/console/credentials', 'Credentials'],
  ['/console/explorer', 'API explorer'],
  ['/createToken/', 'Create a token'],
];

function navigate(path: string): void {
  history.pushState(null, '', path);
  moved = true;
  void render();
}

function layout(session: Session | undefined): HTMLElement {
  const root = document.getElementById('app')!;
  const main = h('main', { id: 'main', tabindex: '-1' });
  const here = location.pathname;
  const nav = h(
    'nav',
    { 'aria-label': 'Console' },
    h(
      'ul',
      {},
      NAV.map(([path, label]) =>
        h(
          'li',
          {},
          h(
            'a',
            { href: path, 'aria-current': here.startsWith(path) ? 'page' : undefined, 'data-route': 'true' },
            label,
          ),
        ),
      ),
    ),
  );
  const account =
    session === undefined
      ? h('a', { href: '/', class: 'button secondary', 'data-route': 'true' }, 'Sign in')
      : h(
          'div',
          { class: 'account' },
          h('span', {}, `Signed in as ${session.accountId}`),
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: async () => {
                await signOut();
                navigate('/');
              },
            },
            'Sign out',
          ),
        );
  clear(
    root,
    h(
      'header',
      { class: 'top' },
      h('a', { href: '/', class: 'brand', 'data-route': 'true' }, 'mks'),
      nav,
      account,
    ),
    main,
    h('div', { id: 'live', class: 'visually-hidden', role: 'status', 'aria-live': 'polite' }),
  );
  return main;
}

let rendering = 0;
let moved = false;
async function render(): Promise<void> {
  const generation = ++rendering;
  const session = currentSession();
  const main = layout(session);
  const context: PageContext = { main, session, navigate };
  const path = location.pathname;
  try {
    if (path === '/auth' || path === '/auth/') await validationPage(context);
    else if (path === '/createToken' || path === '/createToken/') await createTokenPage(context);
    else if (session === undefined) await signInPage(context);
    else if (path === '/console/credentials') await credentialsPage(context, session);
    else if (path === '/console/explorer') await explorerPage(context, session);
    else if (path.startsWith('/console/clusters/')) {
      await clusterPage(context, session, decodeURIComponent(path.slice('/console/clusters/'.length)));
    } else await clustersPage(context, session);
  } catch (error) {
    if (generation !== rendering) return;
    // The session key expired or was revoked (here or elsewhere): back to the sign-in form.
    const code = ((error as ApiError).body as { errorCode?: string } | undefined)?.errorCode;
    if (error instanceof ApiError && (code === 'INVALID_CREDENTIAL' || code === 'NOT_CREDENTIAL')) {
      await signOut();
      await render();
      document.getElementById('main')?.prepend(notice('info', 'Your session has ended: sign in again.'));
      return;
    }
    main.append(h('p', { class: 'notice error', role: 'alert' }, (error as Error).message));
  }
  const heading = main.querySelector('h1');
  if (heading !== null) document.title = `${heading.textContent} · mks console`;
  // After an in-console navigation, start reading (and tabbing) at the new page.
  if (moved) main.focus();
}

// In-console links change the page without a reload (the session stays in this tab).
document.addEventListener('click', (event) => {
  const link = (event.target as Element).closest('a[data-route]');
  if (link === null || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link.getAttribute('href')!);
});
window.addEventListener('popstate', () => void render());
void render();
