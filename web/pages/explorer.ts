/**
 * The API explorer, built here rather than on Swagger UI or Scalar (spec/console.md §3): neither
 * signs OVH-style requests, their search does not cover summaries and paths, and both weigh
 * hundreds of kilobytes. This one reads the served OpenAPI document and gives every operation a
 * stable deep link (`#GET /1.0/cloud/project/{serviceName}/kube`), the access rule it needs
 * checked against the signed-in key, a signed try-it through the CLI's own client, an inspector
 * (the request as signed, the signed string without its secrets, response headers, query id,
 * timing, the likely cause of an auth error) and code samples for the values in the form.
 */
import { compileRules } from '../../src/auth/access-rules.ts';
import { ApiClient, type ApiResponse } from '../../src/client/api-client.ts';
import { clear, field, h, notice } from '../dom.ts';
import type { PageContext } from '../main.ts';
import { codeSamples } from '../samples.ts';
import { endpoint, type Session } from '../session.ts';

interface Operation {
  readonly method: string;
  /** As in the document, `/1.0/...`. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly parameters: { name: string; in: string; required?: boolean; description?: string }[];
  readonly hasBody: boolean;
  readonly signed: boolean;
}

const CAUSES: Record<string, string> = {
  INVALID_SIGNATURE:
    'The signature does not match: the URL signed must be the one sent (scheme, host, port, query string), and the body byte for byte.',
  QUERY_TIME_OUT: 'The clock is off: sign with the server’s time (GET /1.0/auth/time).',
  NOT_GRANTED_CALL: 'The key has no rule for this method and path.',
  INVALID_CREDENTIAL: 'The key is pending, refused, expired or not allowed from this address: sign in again.',
  NOT_CREDENTIAL: 'The key was revoked or never existed: sign in again.',
  INVALID_KEY: 'The application key is unknown (deleted application?).',
  NOT_AUTHENTICATED: 'The call was not signed.',
};

const anchor = (operation: Pick<Operation, 'method' | 'path'>) => `${operation.method} ${operation.path}`;

export async function explorerPage({ main }: PageContext, session: Session): Promise<void> {
  const document = (await (await fetch('/1.0/openapi.json')).json()) as {
    paths: Record<
      string,
      Record<
        string,
        {
          summary?: string;
          tags?: string[];
          parameters?: Operation['parameters'];
          requestBody?: unknown;
          security?: unknown;
        }
      >
    >;
  };
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, spec] of Object.entries(methods)) {
      operations.push({
        method: method.toUpperCase(),
        path,
        summary: spec.summary ?? '',
        tag: spec.tags?.[0] ?? 'other',
        parameters: spec.parameters ?? [],
        hasBody: spec.requestBody !== undefined,
        signed: !/\/auth\/(time|credential)$/.test(path),
      });
    }
  }
  // The rules of the key this tab signs with, as the server holds them.
  const current = await new ApiClient({ endpoint: endpoint(), ...session })
    .call<{ rules: Parameters<typeof compileRules>[0] }>('GET', '/auth/currentCredential')
    .catch(() => ({ rules: [] }));
  const allows = compileRules(current.rules);
  const search = h('input', {
    type: 'search',
    'aria-label': 'Search operations',
    placeholder: 'Search paths and summaries',
  });
  const tree = h('nav', { class: 'tree', 'aria-label': 'Operations' });
  const pane = h('section', { class: 'operation', 'aria-live': 'polite' });
  main.append(
    h('h1', {}, 'API explorer'),
    h('div', { class: 'explorer' }, h('div', { class: 'sidebar' }, search, tree), pane),
  );

  const renderTree = () => {
    const words = search.value
      .toLowerCase()
      .split(/\s+/)
      .filter((word) => word !== '');
    const matching = operations.filter((operation) => {
      const text =
        `${operation.method} ${operation.path} ${operation.summary} ${operation.tag}`.toLowerCase();
      return words.every((word) => text.includes(word));
    });
    const tags = [...new Set(matching.map((operation) => operation.tag))];
    clear(
      tree,
      matching.length === 0 ? h('p', {}, 'No operation matches.') : null,
      tags.map((tag) =>
        h(
          'section',
          {},
          h('h2', { class: 'tag' }, tag),
          h(
            'ul',
            {},
            matching
              .filter((operation) => operation.tag === tag)
              .map((operation) =>
                h(
                  'li',
                  {},
                  h(
                    'a',
                    {
                      href: `#${encodeURIComponent(anchor(operation))}`,
                      'aria-current':
                        decodeURIComponent(location.hash.slice(1)) === anchor(operation) ? 'true' : undefined,
                    },
                    h('span', { class: `method method-${operation.method.toLowerCase()}` }, operation.method),
                    ' ',
                    h('span', { class: 'path' }, operation.path.replace(/^\/1\.0/, '')),
                  ),
                ),
              ),
          ),
        ),
      ),
    );
  };
  search.addEventListener('input', renderTree);

  const projects = await new ApiClient({ endpoint: endpoint(), ...session })
    .call<string[]>('GET', '/cloud/project')
    .catch(() => []);
  const showOperation = () => {
    renderTree();
    const wanted = decodeURIComponent(location.hash.slice(1));
    const operation = operations.find((candidate) => anchor(candidate) === wanted);
    if (operation === undefined) {
      clear(
        pane,
        h('p', {}, `${operations.length} operations. Pick one, or search; every operation has its own link.`),
      );
      return;
    }
    clear(pane, ...operationView(operation, session, allows, projects[0]));
  };
  window.addEventListener('hashchange', showOperation);
  showOperation();
}

function operationView(
  operation: Operation,
  session: Session,
  allows: (method: string, path: string) => boolean,
  project: string | undefined,
): HTMLElement[] {
  const inputs = new Map<string, HTMLInputElement>();
  const params = operation.parameters.filter(
    (parameter) => parameter.in === 'path' || parameter.in === 'query',
  );
  const controls = params.map((parameter) => {
    const input = h('input', {
      name: parameter.name,
      required: parameter.in === 'path' && parameter.required !== false,
      value: parameter.name === 'serviceName' && project !== undefined ? project : '',
      spellcheck: 'false',
    });
    inputs.set(`${parameter.in}:${parameter.name}`, input);
    return field(`${parameter.name} (${parameter.in})`, input, parameter.description);
  });
  const body = h('textarea', { name: 'body', rows: 6, spellcheck: 'false' });
  const rule = h('p', {});
  const samples = h('div', {});
  const inspector = h('div', {});
  const concretePath = () =>
    operation.path.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(inputs.get(`path:${name}`)?.value ?? ''),
    );
  const query = () => {
    const search = new URLSearchParams();
    for (const parameter of params) {
      const value = inputs.get(`query:${parameter.name}`)?.value ?? '';
      if (parameter.in === 'query' && value !== '') search.set(parameter.name, value);
    }
    return search.size === 0 ? '' : `?${search}`;
  };
  const update = () => {
    const path = concretePath().replace(/^\/1\.0/, '');
    const granted = !operation.signed || allows(operation.method, path);
    clear(
      rule,
      'Access rule needed: ',
      h('code', {}, `${operation.method} ${path}`),
      ' — ',
      operation.signed
        ? h(
            'strong',
            { class: granted ? 'ok' : 'error' },
            granted ? 'your key may call this' : 'your key has no rule for this call',
          )
        : 'no signature needed',
    );
    clear(samples, samplesView(operation.method, `${path}${query()}`, body.value.trim()));
  };
  for (const input of inputs.values()) input.addEventListener('input', update);
  body.addEventListener('input', update);
  update();

  const send = h('button', { type: 'submit' }, 'Send signed request');
  const form = h(
    'form',
    { class: 'card', 'aria-label': 'Try it' },
    controls,
    operation.hasBody ? field('Body (JSON)', body) : null,
    send,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let payload: unknown;
    if (operation.hasBody && body.value.trim() !== '') {
      try {
        payload = JSON.parse(body.value);
      } catch (error) {
        clear(inspector, notice('error', `The body is not JSON: ${(error as Error).message}`));
        return;
      }
    }
    const client = new ApiClient({ endpoint: endpoint(), ...session });
    const started = performance.now();
    try {
      const response = await client.raw(
        operation.method,
        `${concretePath().replace(/^\/1\.0/, '')}${query()}`,
        payload,
      );
      clear(inspector, inspect(operation.method, response, performance.now() - started, session));
    } catch (error) {
      clear(inspector, notice('error', `The request did not complete: ${(error as Error).message}`));
    }
  });
  return [
    h(
      'h2',
      {},
      h('span', { class: `method method-${operation.method.toLowerCase()}` }, operation.method),
      ' ',
      h('code', {}, operation.path),
    ),
    h('p', {}, operation.summary),
    h(
      'p',
      { class: 'hint' },
      'Link to this operation: ',
      h('a', { href: `${location.pathname}#${encodeURIComponent(anchor(operation))}` }, 'permalink'),
    ),
    rule,
    form,
    inspector,
    h('section', { class: 'card', 'aria-label': 'Code samples' }, h('h3', {}, 'Code samples'), samples),
  ];
}

function inspect(method: string, response: ApiResponse, milliseconds: number, session: Session): HTMLElement {
  const sent = response.sent!;
  const mask = (value: string) => (value.length > 8 ? `${value.slice(0, 4)}…${value.slice(-2)}` : '…');
  const shownHeaders = Object.entries(sent.headers).map(([name, value]) =>
    name === 'X-Ovh-Consumer' ? `${name}: ${mask(value)}` : `${name}: ${value}`,
  );
  const timestamp = sent.headers['X-Ovh-Timestamp'];
  const errorCode = (response.body as { errorCode?: string } | null)?.errorCode;
  return h(
    'section',
    { class: 'card inspector', 'aria-label': 'Inspector' },
    h('h3', {}, `Response ${response.status} in ${Math.round(milliseconds)} ms`),
    h('p', {}, 'X-Ovh-QueryID: ', h('code', {}, response.queryId ?? 'none')),
    errorCode === undefined
      ? null
      : notice('error', `${errorCode}: ${CAUSES[errorCode] ?? 'see the message.'}`),
    h('h4', {}, 'Request as signed'),
    h('pre', {}, [`${method} ${sent.url}`, ...shownHeaders, '', sent.body].join('\n')),
    timestamp === undefined
      ? null
      : h(
          'p',
          {},
          'Signed string: ',
          h(
            'code',
            {},
            `‹application secret›+‹consumer key ${mask(session.consumerKey)}›+${method}+${sent.url}+${sent.body}+${timestamp}`,
          ),
        ),
    h('h4', {}, 'Response headers'),
    h(
      'pre',
      {},
      Object.entries(response.headers ?? {})
        .map(([name, value]) => `${name}: ${value}`)
        .join('\n'),
    ),
    h('h4', {}, 'Response body'),
    h('pre', {}, JSON.stringify(response.body, null, 2)),
  );
}

function samplesView(method: string, path: string, body: string): HTMLElement {
  const samples = codeSamples({
    endpoint: endpoint(),
    host: location.hostname,
    port: Number(location.port || (location.protocol === 'https:' ? 443 : 80)),
    method,
    path,
    body,
  });
  return h(
    'div',
    {},
    samples.map(([label, code]) => h('details', {}, h('summary', {}, label), h('pre', {}, code))),
  );
}
