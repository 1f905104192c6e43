/**
 * A few DOM helpers instead of a UI library: the console is a handful of forms and tables, and
 * building elements with `textContent` only (never HTML strings) keeps every value inert.
 */

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | boolean | number | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

let ids = 0;
/** A labelled form field; `hint` is tied to the control with aria-describedby. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLElement {
  ids += 1;
  control.id ||= `field-${ids}`;
  const hintId = `${control.id}-hint`;
  if (hint !== undefined) control.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint === undefined ? null : h('p', { class: 'hint', id: hintId }, hint),
  );
}

/** Announces a message to screen readers and shows it (errors in an alert role). */
export function notice(kind: 'error' | 'ok' | 'info', message: string): HTMLElement {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
}

export function announce(message: string): void {
  const region = document.getElementById('live');
  if (region !== null) region.textContent = message;
}

/** A read-only value with a Copy button. */
export function copyable(label: string, value: string, multiline = false): HTMLElement {
  const control = multiline
    ? h('textarea', { readonly: true, rows: Math.min(12, value.split('\n').length + 1), spellcheck: 'false' })
    : h('input', { readonly: true, type: 'text', spellcheck: 'false' });
  control.value = value;
  const button = h('button', { type: 'button', class: 'secondary' }, `Copy ${label.toLowerCase()}`);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
      announce(`${label} copied`);
    } catch {
      control.select();
      announce(`Select and copy ${label} by hand (the clipboard is not available)`);
    }
  });
  return h('div', { class: 'copyable' }, field(label, control), button);
}

export function clear(element: HTMLElement, ...children: (Child | Child[])[]): void {
  element.replaceChildren();
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

export function formatDate(value: string | null, empty = 'never'): string {
  if (value === null) return empty;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

/** POSTs JSON to the console's own server side; throws the API's message on refusal. */
export async function postForm<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'omit',
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep null: the message below says what happened
  }
  if (!response.ok) {
    const message = (parsed as { message?: string } | null)?.message ?? `HTTP ${response.status}`;
    throw new Error(message);
  }
  return parsed as T;
}

export const VALIDITIES: readonly [number | null, string][] = [
  [3600, '1 hour'],
  [8 * 3600, '8 hours'],
  [86_400, '24 hours'],
  [7 * 86_400, '7 days'],
  [30 * 86_400, '30 days'],
  [null, 'Unlimited'],
];

export function validitySelect(defaultSeconds: number | null): HTMLSelectElement {
  const select = h('select', { name: 'validity' });
  for (const [seconds, label] of VALIDITIES) {
    const option = h('option', { value: seconds === null ? 'unlimited' : String(seconds) }, label);
    option.selected = seconds === defaultSeconds;
    select.append(option);
  }
  return select;
}

export const selectedValidity = (select: HTMLSelectElement): number | null =>
  select.value === 'unlimited' ? null : Number(select.value);

/** One IP block per line (or comma-separated); empty: no restriction. */
export const ipList = (text: string): string[] | null => {
  const blocks = text
    .split(/[\s,]+/)
    .map((block) => block.trim())
    .filter((block) => block !== '');
  return blocks.length === 0 ? null : blocks;
};

/** The login and password fields every console form that acts for an account starts with. */
export function accountFields(): {
  login: HTMLInputElement;
  password: HTMLInputElement;
  fields: HTMLElement[];
} {
  const login = h('input', { name: 'login', autocomplete: 'username', required: true, maxlength: 200 });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  return { login, password, fields: [field('Login', login), field('Password', password)] };
}
