// The extension manifest points at files that exist and declares what the README promises.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

test('language, grammar and configuration files exist and parse', () => {
  const [language] = manifest.contributes.languages;
  assert.equal(language.id, 'writ');
  assert.deepEqual(language.extensions, ['.writ']);
  JSON.parse(fs.readFileSync(path.join(root, language.configuration), 'utf8'));
  const [grammar] = manifest.contributes.grammars;
  assert.equal(grammar.language, 'writ');
  const raw = JSON.parse(fs.readFileSync(path.join(root, grammar.path), 'utf8'));
  assert.equal(raw.scopeName, grammar.scopeName);
  assert.ok(fs.existsSync(path.join(root, manifest.main)));
});

test('language configuration: line comments, brackets, auto-closing quotes', () => {
  const config = JSON.parse(fs.readFileSync(path.join(root, 'language-configuration.json'), 'utf8'));
  assert.equal(config.comments.lineComment, '//');
  assert.deepEqual(config.brackets, [['{', '}'], ['[', ']'], ['(', ')']]);
  assert.ok(config.autoClosingPairs.some((p) => p.open === '"' && p.close === '"'));
});

test('settings: writ.path starts the server, restricted in untrusted workspaces', () => {
  const props = manifest.contributes.configuration.properties;
  assert.equal(props['writ.path'].default, 'writ');
  assert.ok(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('writ.path'));
  assert.ok(props['writ.trace.server']);
  const source = fs.readFileSync(path.join(root, manifest.main), 'utf8');
  assert.match(source, /args: \['lsp'\]/);
  assert.ok(manifest.activationEvents.includes('workspaceContains:**/*.writ'));
});
