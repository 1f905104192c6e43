/**
 * Clusters: the list with create, and one cluster's page with its live status, kube-proxy mode
 * and every effective value (set, or kube-proxy's default, marked so), admission plugins, an
 * editor the server validates (its field-level message shown beside the form), reset, delete
 * (each confirmed) and the kubeconfig download.
 */

import { ApiError } from '../../src/client/api-client.ts';
import type { Cluster, Rollout } from '../../src/client/mks-client.ts';
import { announce, clear, field, formatDate, h, notice } from '../dom.ts';
import type { PageContext } from '../main.ts';
import { clientFor, type Session } from '../session.ts';

/** kube-proxy's own defaults (spec/kube-proxy.md §2.2): shown where the user set nothing. */
const FIELDS = [
  ['iptables', 'minSyncPeriod', 'PT1S'],
  ['iptables', 'syncPeriod', 'PT30S'],
  ['ipvs', 'minSyncPeriod', 'PT0S'],
  ['ipvs', 'syncPeriod', 'PT30S'],
  ['ipvs', 'scheduler', 'rr'],
  ['ipvs', 'tcpTimeout', 'PT0S'],
  ['ipvs', 'tcpFinTimeout', 'PT0S'],
  ['ipvs', 'udpTimeout', 'PT0S'],
] as const;
const SCHEDULERS = ['', 'dh', 'lc', 'nq', 'rr', 'sed', 'sh'];
const TRANSITIONAL = new Set(['INSTALLING', 'REDEPLOYING', 'RESETTING', 'DELETING', 'UPDATING']);

async function project(session: Session): Promise<string> {
  const projects = await clientFor(session).listProjects();
  if (projects.length === 0) throw new Error('This account has no project yet.');
  return projects[0]!;
}

export async function clustersPage({ main, navigate }: PageContext, session: Session): Promise<void> {
  const client = clientFor(session);
  const serviceName = await project(session);
  main.append(h('h1', {}, 'Clusters'), h('p', { class: 'hint' }, `Project ${serviceName}`));
  const [clusters, regions] = await Promise.all([
    client.listClusters(serviceName),
    client.listRegions(serviceName),
  ]);
  const table = h(
    'table',
    {},
    h('caption', { class: 'visually-hidden' }, 'Clusters of the project'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Name', 'Status', 'Region', 'Version', 'kube-proxy mode', 'Created'].map((title) =>
          h('th', { scope: 'col' }, title),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      clusters.map((cluster) =>
        h(
          'tr',
          {},
          h(
            'td',
            {},
            h(
              'a',
              { href: `/console/clusters/${encodeURIComponent(cluster.id)}`, 'data-route': 'true' },
              cluster.name || cluster.id,
            ),
          ),
          h('td', {}, h('span', { class: `status status-${cluster.status.toLowerCase()}` }, cluster.status)),
          h('td', {}, cluster.region),
          h('td', {}, cluster.version),
          h('td', {}, cluster.kubeProxyMode),
          h('td', {}, formatDate(cluster.createdAt)),
        ),
      ),
    ),
  );
  main.append(
    clusters.length === 0 ? h('p', {}, 'No cluster yet.') : h('div', { class: 'table-wrap' }, table),
  );

  const name = h('input', { name: 'name', maxlength: 64 });
  const region = h('select', { name: 'region' });
  for (const value of regions) region.append(h('option', { value }, value));
  const mode = h('select', { name: 'kubeProxyMode' });
  for (const value of ['iptables', 'ipvs']) mode.append(h('option', { value }, value));
  const status = h('div', {});
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'Create a cluster'),
    field('Name', name),
    field('Region', region),
    field('kube-proxy mode', mode, 'Fixed after creation: only a reset changes it.'),
    status,
    h('button', { type: 'submit' }, 'Create cluster'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const created = await client.createCluster(serviceName, {
        region: region.value,
        kubeProxyMode: mode.value as 'iptables' | 'ipvs',
        ...(name.value.trim() === '' ? {} : { name: name.value.trim() }),
      });
      announce(`Cluster ${created.name || created.id} created`);
      navigate(`/console/clusters/${encodeURIComponent(created.id)}`);
    } catch (error) {
      status.replaceChildren(notice('error', (error as Error).message));
    }
  });
  main.append(form);
}

export async function clusterPage(
  { main, navigate }: PageContext,
  session: Session,
  id: string,
): Promise<void> {
  const client = clientFor(session);
  const serviceName = await project(session);
  let cluster = await client.getCluster(serviceName, id);
  const heading = h('h1', {}, cluster.name || cluster.id);
  const statusLine = h('p', { class: 'status-line', role: 'status', 'aria-live': 'polite' });
  const values = h('div', {});
  const messages = h('div', {});
  main.append(heading, statusLine, messages, values);

  let rollout: Rollout | undefined;
  const showStatus = () => {
    // The rollout view (null phase: the cluster's Kubernetes API cannot be read right now).
    const nodes =
      rollout === undefined || rollout.phase === null || rollout.desired === 0
        ? undefined
        : {
            updated: rollout.nodes.filter((node) => node.generation === rollout?.generation && node.ready)
              .length,
            desired: rollout.desired,
          };
    clear(
      statusLine,
      'Status: ',
      h('span', { class: `status status-${cluster.status.toLowerCase()}` }, cluster.status),
      TRANSITIONAL.has(cluster.status) ? ' — applying the last change, node by node' : '',
      nodes === undefined
        ? ''
        : ` · kube-proxy: ${nodes.updated}/${nodes.desired} nodes on the new configuration`,
      cluster.statusMessage ? ` — ${cluster.statusMessage}` : '',
    );
  };
  const refreshRollout = async () => {
    rollout = await client.rollout(serviceName, id).catch(() => undefined);
  };
  const showValues = () => clear(values, effectiveValues(cluster));
  await refreshRollout();
  showStatus();
  showValues();

  // Live status: poll while a change is being applied, announce the end.
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      while (main.isConnected) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        if (!main.isConnected) return;
        const next = await client.findCluster(serviceName, id);
        if (next === undefined) {
          clear(statusLine, 'This cluster has been deleted.');
          return;
        }
        const changed = next.status !== cluster.status;
        cluster = next;
        await refreshRollout();
        showStatus();
        showValues();
        if (changed && !TRANSITIONAL.has(cluster.status)) {
          announce(`Cluster ${cluster.name || cluster.id} is ${cluster.status}`);
          return;
        }
      }
    } finally {
      polling = false;
    }
  };
  if (TRANSITIONAL.has(cluster.status)) void poll();

  main.append(
    editor(cluster, async (kubeProxy) => {
      messages.replaceChildren();
      const answer = await client.updateCustomization(serviceName, id, { kubeProxy });
      if (answer.message) messages.append(notice('info', answer.message));
      announce('Customization saved: rolling out');
      cluster = await client.getCluster(serviceName, id);
      showStatus();
      showValues();
      void poll();
    }),
  );

  const download = h('button', { type: 'button', class: 'secondary' }, 'Download kubeconfig');
  download.addEventListener('click', async () => {
    const content = await client.getKubeconfig(serviceName, id);
    const link = h('a', {
      href: URL.createObjectURL(new Blob([content], { type: 'application/yaml' })),
      download: `${cluster.name || id}.kubeconfig`,
    });
    link.click();
    URL.revokeObjectURL(link.href);
    announce('kubeconfig downloaded');
  });
  main.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'actions-title' },
      h('h2', { id: 'actions-title' }, 'Actions'),
      h(
        'div',
        { class: 'actions' },
        download,
        confirmed(
          'Reset cluster',
          'Reset: kube-proxy mode ipvs and empty customization unless set again. Confirm?',
          async () => {
            await client.resetCluster(serviceName, id, {});
            cluster = await client.getCluster(serviceName, id);
            showStatus();
            showValues();
            void poll();
          },
        ),
        confirmed('Delete cluster', `Delete ${cluster.name || id}? This cannot be undone.`, async () => {
          await client.deleteCluster(serviceName, id);
          navigate('/console/clusters');
        }),
      ),
    ),
  );
}

/** A button that asks once more, in place, before acting. */
function confirmed(label: string, question: string, act: () => Promise<void>): HTMLElement {
  const wrap = h('span', { class: 'confirm' });
  const button = h('button', { type: 'button', class: 'danger' }, label);
  const status = h('span', {});
  wrap.append(button, status);
  button.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'danger' }, `Yes, ${label.toLowerCase()}`);
    const no = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const box = h('span', { role: 'group', 'aria-label': question }, h('span', {}, question), ' ', yes, no);
    wrap.replaceChildren(box, status);
    yes.focus();
    no.addEventListener('click', () => {
      wrap.replaceChildren(button, status);
      button.focus();
    });
    yes.addEventListener('click', async () => {
      try {
        await act();
        wrap.replaceChildren(button, status);
      } catch (error) {
        status.replaceChildren(notice('error', (error as Error).message));
      }
    });
  });
  return wrap;
}

function effectiveValues(cluster: Cluster): HTMLElement {
  const kubeProxy = (cluster.customization?.kubeProxy ?? {}) as Record<
    string,
    Record<string, string | null> | null
  >;
  const plugins = cluster.customization?.apiServer?.admissionPlugins;
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'values-title' },
    h('h2', { id: 'values-title' }, 'Networking'),
    h('p', {}, `kube-proxy mode: `, h('strong', {}, cluster.kubeProxyMode), ' (changes only with a reset)'),
    h(
      'table',
      {},
      h('caption', {}, 'kube-proxy values in effect'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Field', 'Value', 'Source'].map((title) => h('th', { scope: 'col' }, title)),
        ),
      ),
      h(
        'tbody',
        {},
        FIELDS.map(([section, name, fallback]) => {
          const set = kubeProxy[section]?.[name];
          const isSet = set !== undefined && set !== null;
          return h(
            'tr',
            {},
            h('td', {}, h('code', {}, `${section}.${name}`)),
            h('td', {}, isSet ? set : fallback),
            h(
              'td',
              {},
              h('span', { class: isSet ? 'badge set' : 'badge default' }, isSet ? 'set' : 'default'),
            ),
          );
        }),
      ),
    ),
    h(
      'p',
      {},
      'Admission plugins enabled: ',
      (plugins?.enabled ?? []).join(', ') || 'none',
      '; disabled: ',
      (plugins?.disabled ?? []).join(', ') || 'none',
    ),
    h('p', { class: 'hint' }, `Updated ${formatDate(cluster.updatedAt)}`),
  );
}

function editor(
  cluster: Cluster,
  save: (kubeProxy: Record<string, Record<string, string>>) => Promise<void>,
): HTMLElement {
  const kubeProxy = (cluster.customization?.kubeProxy ?? {}) as Record<
    string,
    Record<string, string | null> | null
  >;
  const controls = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const fields = FIELDS.map(([section, name, fallback]) => {
    const key = `${section}.${name}`;
    const current = kubeProxy[section]?.[name] ?? '';
    let control: HTMLInputElement | HTMLSelectElement;
    if (name === 'scheduler') {
      control = h('select', { name: key });
      for (const value of SCHEDULERS)
        control.append(
          h('option', { value, selected: value === current }, value === '' ? '(default: rr)' : value),
        );
    } else {
      control = h('input', {
        name: key,
        value: current ?? '',
        placeholder: `default ${fallback}`,
        spellcheck: 'false',
        maxlength: 40,
      });
    }
    controls.set(key, control);
    return field(`${section} ${name}`, control);
  });
  const status = h('div', {});
  const submit = h('button', { type: 'submit' }, 'Save kube-proxy customization');
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'editor-title' },
    h('h2', { id: 'editor-title' }, 'Edit kube-proxy'),
    h(
      'p',
      { class: 'hint' },
      'ISO 8601 durations such as PT30S. Empty: kube-proxy’s default. The whole kubeProxy section is replaced.',
    ),
    h('div', { class: 'grid' }, fields),
    status,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body: Record<string, Record<string, string>> = {};
    for (const [key, control] of controls) {
      control.removeAttribute('aria-invalid');
      const value = control.value.trim();
      if (value === '') continue;
      const [section, name] = key.split('.') as [string, string];
      body[section] = { ...(body[section] ?? {}), [name]: value };
    }
    submit.disabled = true;
    try {
      await save(body);
      status.replaceChildren(notice('ok', 'Saved. The change rolls out node by node.'));
    } catch (error) {
      const message = (error as Error).message;
      // The server names the field (customization.kubeProxy.iptables.minSyncPeriod): mark it.
      for (const [key, control] of controls) {
        if (message.includes(`kubeProxy.${key}`)) control.setAttribute('aria-invalid', 'true');
      }
      status.replaceChildren(
        notice('error', error instanceof ApiError ? `${error.status}: ${message}` : message),
      );
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
