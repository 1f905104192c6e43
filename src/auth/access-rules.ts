/**
 * OVH access rules: `{method, path}` pairs where `*` matches any run of characters, `/` included
 * (`/cloud/project/*` covers every path below it; a rule on `/ip` does not grant `/ip/x`).
 */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface AccessRule {
  method: HttpMethod;
  path: string;
}

export type RuleMatcher = (method: string, path: string) => boolean;

export function compileRules(rules: readonly AccessRule[]): RuleMatcher {
  const compiled = rules.map((rule) => ({
    method: rule.method,
    pattern: new RegExp(`^${rule.path.split('*').map(escapeRegExp).join('.*')}$`),
  }));
  return (method, path) => compiled.some((rule) => rule.method === method && rule.pattern.test(path));
}

/** Parses `'GET /cloud/project/*'` (the CLI's `--rule` form). */
export function parseRule(text: string): AccessRule {
  const match = /^\s*(GET|POST|PUT|DELETE)\s+(\/\S*)\s*$/.exec(text);
  if (match === null) throw new Error(`'${text}' is not a rule such as 'GET /cloud/project/*'`);
  return { method: match[1] as HttpMethod, path: match[2]! };
}

export const FULL_ACCESS: readonly AccessRule[] = Object.freeze(
  HTTP_METHODS.map((method) => Object.freeze({ method, path: '/*' })),
);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
