import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileRules, FULL_ACCESS, parseRule } from './access-rules.ts';

describe('access rules', () => {
  test('a rule without a star grants exactly its own path and method', () => {
    const allows = compileRules([{ method: 'GET', path: '/cloud/project' }]);
    assert.equal(allows('GET', '/cloud/project'), true);
    assert.equal(allows('GET', '/cloud/project/x'), false);
    assert.equal(allows('GET', '/cloud/projects'), false);
    assert.equal(allows('GET', '/cloud'), false);
    assert.equal(allows('POST', '/cloud/project'), false);
  });

  test('a trailing star matches any run of characters, slashes included', () => {
    const allows = compileRules([{ method: 'GET', path: '/cloud/project/*' }]);
    assert.equal(allows('GET', '/cloud/project/abc'), true);
    assert.equal(allows('GET', '/cloud/project/abc/kube/def/customization'), true);
    assert.equal(allows('GET', '/cloud/project/'), true);
    assert.equal(allows('GET', '/cloud/project'), false);
    assert.equal(allows('DELETE', '/cloud/project/abc'), false);
  });

  test('a star may stand in the middle of a path', () => {
    const allows = compileRules([{ method: 'PUT', path: '/cloud/project/*/kube/*/customization' }]);
    assert.equal(allows('PUT', '/cloud/project/p1/kube/k1/customization'), true);
    assert.equal(allows('PUT', '/cloud/project/p1/kube/k1/updatePolicy'), false);
    assert.equal(allows('PUT', '/cloud/project/p1/kube/k1/customization/more'), false);
  });

  test('regular-expression characters in a rule are taken literally', () => {
    const allows = compileRules([{ method: 'GET', path: '/a.b/(c)+' }]);
    assert.equal(allows('GET', '/a.b/(c)+'), true);
    assert.equal(allows('GET', '/aXb/(c)+'), false);
    assert.equal(allows('GET', '/a.b/cc'), false);
  });

  test('no rules grant nothing and several rules grant their union', () => {
    assert.equal(compileRules([])('GET', '/cloud/project'), false);
    const allows = compileRules([
      { method: 'GET', path: '/cloud/project' },
      { method: 'POST', path: '/cloud/project/*/kube' },
    ]);
    assert.equal(allows('GET', '/cloud/project'), true);
    assert.equal(allows('POST', '/cloud/project/p1/kube'), true);
    assert.equal(allows('GET', '/cloud/project/p1/kube'), false);
  });

  test('full access grants every method on every path but nothing else', () => {
    const allows = compileRules(FULL_ACCESS);
    for (const method of ['GET', 'POST', 'PUT', 'DELETE']) assert.equal(allows(method, '/any/thing'), true);
    assert.equal(allows('PATCH', '/any/thing'), false);
    assert.equal(allows('HEAD', '/any/thing'), false);
  });

  test('the command-line rule form is parsed into a method and a path', () => {
    assert.deepEqual(parseRule('GET /cloud/project/*'), { method: 'GET', path: '/cloud/project/*' });
    assert.deepEqual(parseRule('  DELETE   /x  '), { method: 'DELETE', path: '/x' });
  });

  test('a malformed command-line rule is refused with an example', () => {
    for (const text of ['get /x', 'PATCH /x', 'GET x', 'GET', '/x', 'GET /a b']) {
      assert.throws(() => parseRule(text), /is not a rule such as 'GET \/cloud\/project\/\*'/, text);
    }
  });
});

test('stars match exactly as "any run of characters", pieces in order and without overlap', () => {
  const allows = (rule: string, path: string) => compileRules([{ method: 'GET', path: rule }])('GET', path);
  assert.equal(allows('/a*a', '/a'), false, 'the prefix and the suffix cannot share characters');
  assert.equal(allows('/a*a', '/aa'), true);
  assert.equal(allows('*', ''), true);
  assert.equal(allows('/x*y*z', '/xzy'), false, 'pieces must appear in order');
  assert.equal(allows('/x*y*z', '/x-y-y-z'), true);
  assert.equal(allows('/cloud/*/kube/*', '/cloud/p1/kube/c1/customization'), true);
});

test('a rule with many stars against a long path is answered, not left to a backtracking regular expression', () => {
  // Compiled to a RegExp, this rule would not finish on this path (the run would hit its timeout).
  const rule = `/${'*a'.repeat(200)}*b`;
  assert.equal(compileRules([{ method: 'GET', path: rule }])('GET', `/${'a'.repeat(20_000)}`), false);
  assert.equal(compileRules([{ method: 'GET', path: rule }])('GET', `/${'a'.repeat(20_000)}b`), true);
});
