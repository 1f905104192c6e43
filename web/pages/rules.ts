/** Access rules shown as people read them. */
import { h } from '../dom.ts';

const VERBS: Record<string, string> = { GET: 'Read', POST: 'Create', PUT: 'Change', DELETE: 'Delete' };

export function rulesList(rules: readonly { method: string; path: string }[], label: string): HTMLElement {
  return h(
    'ul',
    { class: 'rules', 'aria-label': label },
    rules.map((rule) =>
      h(
        'li',
        {},
        h('span', { class: `method method-${rule.method.toLowerCase()}` }, rule.method),
        ' ',
        h('code', {}, rule.path),
        h(
          'span',
          { class: 'hint' },
          ` — ${VERBS[rule.method] ?? rule.method} ${rule.path === '/*' ? 'everything' : rule.path}`,
        ),
      ),
    ),
  );
}
