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
  const compiled = rules.map((rule) => ({ method: rule.method, parts: rule.path.split('*') }));
  return (method, path) => compiled.some((rule) => rule.method === method && matchesParts(rule.parts, path));
}

/**
 * Glob matching without regular expressions: rules come from API callers (`POST /auth/credential`),
 * and a rule such as `/*a*a*a…` compiled to a RegExp backtracks exponentially on a long path. Here
 * the literal pieces between stars are found left to right, leftmost first, which is exact for
 * `*` = "any run of characters" and linear in the path's length per piece.
 */
function matchesParts(parts: readonly string[], path: string): boolean {
  const first = parts[0]!;
  if (parts.length === 1) return path === first;
  const last = parts[parts.length - 1]!;
  if (!path.startsWith(first) || path.length < first.length + last.length || !path.endsWith(last))
    return false;
  let position = first.length;
  const end = path.length - last.length;
  for (let index = 1; index < parts.length - 1; index += 1) {
    const piece = parts[index]!;
    const found = path.indexOf(piece, position);
    if (found === -1 || found + piece.length > end) return false;
    position = found + piece.length;
  }
  return true;
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
