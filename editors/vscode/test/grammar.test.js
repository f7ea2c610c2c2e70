// Tokenizes writ samples with the extension's TextMate grammar, through the same engine VS Code
// uses (vscode-textmate on the Oniguruma WebAssembly build), and checks the scopes that matter.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.join(__dirname, '..');
const repo = path.join(root, '..', '..');

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.writ') return null;
      const file = path.join(root, 'syntaxes', 'writ.tmLanguage.json');
      return vsctm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
  return registry.loadGrammar('source.writ');
}

const grammarPromise = loadGrammar();

/** Every token of `text` as {text, scopes, line}, in order. */
async function tokenize(text) {
  const grammar = await grammarPromise;
  let state = vsctm.INITIAL;
  const tokens = [];
  text.split('\n').forEach((line, lineNo) => {
    const result = grammar.tokenizeLine(line, state);
    for (const t of result.tokens) {
      tokens.push({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes, line: lineNo });
    }
    state = result.ruleStack;
  });
  return tokens;
}

/** The innermost scope of the first token equal to `text` (after `skip` earlier equal ones). */
function scopeOf(tokens, text, skip = 0) {
  const found = tokens.filter((t) => t.text.trim() === text);
  assert.ok(found.length > skip, `no token \`${text}\` (#${skip}) in ${JSON.stringify(tokens.map((t) => t.text))}`);
  const scopes = found[skip].scopes;
  return scopes[scopes.length - 1];
}

const SAMPLE = `/// People who own a service.
role maintainer extends developer {
  may repo.merge
  may deploy when env == "staging"
}

tool deploy(env: "staging" | "prod", service: string, files: [string]) [write, prod]
tool mcp.server.test
evidence code_review by human bound // counts for one change
attribute org: string
context incident_open: bool

workflow ship_agent {
  start by maintainer
  ttl 30m
  max_depth 2
  allow repo.* when base == "main" and not context.incident_open require 2 approval by release_captain, tests_passed
  deny [secret] when name matches "prod/*" unless initiator has role security_reviewer because "no \\"secrets\\"\\n"
}

require signed_commit for [write] when depth > 1 and caller.kind == agent
deny start when initiator.org != "acme"

fixture rita = human [release_captain] { org: "acme", on_call: true }
test "production deploys" {
  expect pending(approval): rita via ship_agent calls deploy(env: "prod", service: "api")
    with approval by rob, tests_passed context { incident_open: false }
  expect allow: rita starts ship_agent ttl 90s
}
`;

const SAMPLE_V2 = `tool sh.run(command: command) [exec]
tool fs.edit(file: path) [file]

workflow coding {
  start by dev
  allow sh.run when command runs only [
    ["git", "status"], ["git", "diff", ...], ["ls", ...]
  ]
  allow fs.edit when file under "src" and calls([secret] within 1h) < 2 and calls(deploy.*) == 0
}
deny sh.run when command runs ["rm", ..., "-*r*", ...] because "no recursive deletes"

/// Claims.
assert "deploys carry approvals" {
  never allow deploy when env == "prod" and given(2 approval by lead) < 2
  never allow via coding sh.run when command runs ["curl", ...]
  never start release when initiator.kind == agent
}

test "runs" {
  expect deny: alice via coding calls fs.edit(file: "x") in "/work" at "2026-12-02T16:00:00Z"
    after [secrets.get at "2026-12-02T15:58:12Z", deploy 2h ago, ping]
}
`;

test('version 2: commands, paths, history, assertions and test run clauses', async () => {
  const tokens = await tokenize(SAMPLE_V2);
  assert.equal(scopeOf(tokens, 'command', 1), 'support.type.primitive.writ'); // command: command
  assert.equal(scopeOf(tokens, 'command', 0), 'variable.parameter.writ');
  assert.equal(scopeOf(tokens, 'path'), 'support.type.primitive.writ');
  for (const kw of ['runs', 'only', 'under']) {
    assert.equal(scopeOf(tokens, kw), 'keyword.operator.word.writ', kw);
  }
  assert.equal(scopeOf(tokens, '...'), 'keyword.operator.rest.writ');
  assert.equal(scopeOf(tokens, 'calls'), 'keyword.other.calls.writ');
  assert.equal(scopeOf(tokens, 'within'), 'keyword.other.within.writ');
  assert.equal(scopeOf(tokens, 'secret'), 'entity.name.tag.writ');
  assert.equal(scopeOf(tokens, '1h'), 'constant.numeric.duration.writ');
  assert.equal(scopeOf(tokens, 'deploy.*'), 'entity.name.function.tool.writ');
  assert.equal(scopeOf(tokens, 'assert'), 'storage.type.assert.writ');
  assert.equal(scopeOf(tokens, 'deploys carry approvals'), 'string.quoted.double.writ');
  assert.match(scopeOf(tokens, 'never'), /^keyword\.control\./);
  assert.equal(scopeOf(tokens, 'never', 2), 'keyword.control.never.writ'); // never start
  assert.equal(scopeOf(tokens, 'given'), 'keyword.other.given.writ');
  assert.equal(scopeOf(tokens, 'approval'), 'entity.name.type.evidence.writ');
  assert.equal(scopeOf(tokens, 'lead'), 'entity.name.type.role.writ');
  assert.equal(scopeOf(tokens, 'via', 0), 'keyword.other.via.writ'); // never allow via coding
  assert.equal(scopeOf(tokens, 'coding', 1), 'entity.name.type.workflow.writ');
  assert.equal(scopeOf(tokens, 'sh.run', 3), 'entity.name.function.tool.writ');
  assert.equal(scopeOf(tokens, 'release'), 'entity.name.type.workflow.writ'); // never start release
  // A claim through a workflow may target tags.
  const tagged = await tokenize('  never allow via coding [exec, net] when command runs ["curl", ...]');
  assert.equal(scopeOf(tagged, 'coding'), 'entity.name.type.workflow.writ');
  assert.equal(scopeOf(tagged, 'exec'), 'entity.name.tag.writ');
  assert.equal(scopeOf(tagged, 'net'), 'entity.name.tag.writ');
  assert.equal(scopeOf(tagged, 'when'), 'keyword.other.writ');
  assert.equal(scopeOf(tagged, 'runs'), 'keyword.operator.word.writ');
  // Test run clauses: `at` and `after` are keywords only there.
  assert.equal(scopeOf(tokens, 'in', 0), 'keyword.operator.word.writ');
  assert.equal(scopeOf(tokens, 'at', 0), 'keyword.other.at.writ');
  assert.equal(scopeOf(tokens, 'after'), 'keyword.other.after.writ');
  assert.equal(scopeOf(tokens, 'at', 1), 'keyword.other.writ'); // inside after [...]
  assert.equal(scopeOf(tokens, 'ago'), 'keyword.other.writ');
  assert.equal(scopeOf(tokens, 'secrets.get'), 'entity.name.function.tool.writ');
  assert.equal(scopeOf(tokens, 'ping'), 'entity.name.function.tool.writ');
  assert.equal(scopeOf(tokens, '2h'), 'constant.numeric.duration.writ');
  // Elsewhere `within`, `at`, `after` and `ago` are names.
  const names = await tokenize('allow deploy when within == at and after > ago');
  for (const word of ['within', 'at', 'after', 'ago']) {
    assert.equal(scopeOf(names, word).startsWith('keyword'), false, word);
  }
});

test('comments and doc comments', async () => {
  const tokens = await tokenize(SAMPLE);
  assert.equal(tokens[0].line, 0);
  assert.ok(tokens[0].scopes.includes('comment.line.documentation.writ'));
  const trailing = tokens.find((t) => t.text.includes('counts for one change'));
  assert.ok(trailing.scopes.includes('comment.line.double-slash.writ'));
});

test('declarations name what they declare', async () => {
  const tokens = await tokenize(SAMPLE);
  assert.equal(scopeOf(tokens, 'role'), 'storage.type.role.writ');
  assert.equal(scopeOf(tokens, 'maintainer'), 'entity.name.type.role.writ');
  assert.equal(scopeOf(tokens, 'extends'), 'keyword.other.extends.writ');
  assert.equal(scopeOf(tokens, 'developer'), 'entity.name.type.role.writ');
  assert.equal(scopeOf(tokens, 'tool'), 'storage.type.tool.writ');
  assert.equal(scopeOf(tokens, 'deploy'), 'entity.name.function.tool.writ');
  assert.equal(scopeOf(tokens, 'env', 1), 'variable.parameter.writ'); // in the tool's parameters
  assert.equal(scopeOf(tokens, 'string'), 'support.type.primitive.writ');
  assert.equal(scopeOf(tokens, 'string', 1), 'support.type.primitive.writ'); // [string]
  assert.equal(scopeOf(tokens, 'write'), 'entity.name.tag.writ');
  assert.equal(scopeOf(tokens, 'prod', 1), 'entity.name.tag.writ'); // after the string "prod"
  assert.equal(scopeOf(tokens, 'evidence'), 'storage.type.evidence.writ');
  assert.equal(scopeOf(tokens, 'code_review'), 'entity.name.type.evidence.writ');
  assert.equal(scopeOf(tokens, 'human'), 'support.constant.kind.writ');
  assert.equal(scopeOf(tokens, 'bound'), 'storage.modifier.bound.writ');
  assert.equal(scopeOf(tokens, 'org'), 'variable.other.declaration.writ');
  assert.equal(scopeOf(tokens, 'bool'), 'support.type.primitive.writ');
  assert.equal(scopeOf(tokens, 'workflow'), 'storage.type.workflow.writ');
  assert.equal(scopeOf(tokens, 'ship_agent'), 'entity.name.type.workflow.writ');
  assert.equal(scopeOf(tokens, 'fixture'), 'storage.type.fixture.writ');
  assert.equal(scopeOf(tokens, 'rita'), 'variable.other.fixture.writ');
  assert.equal(scopeOf(tokens, 'test'), 'storage.type.test.writ');
});

test('tool names with dots, keywords after a dot included, and globs', async () => {
  const tokens = await tokenize(SAMPLE);
  assert.equal(scopeOf(tokens, 'repo.merge'), 'entity.name.function.tool.writ');
  assert.equal(scopeOf(tokens, 'mcp.server.test'), 'entity.name.function.tool.writ');
  assert.equal(scopeOf(tokens, 'repo.*'), 'entity.name.function.tool.writ');
  assert.equal(scopeOf(tokens, 'deploy', 1), 'entity.name.function.tool.writ'); // may deploy
  assert.equal(scopeOf(tokens, 'deploy', 2), 'entity.name.function.tool.writ'); // calls deploy
  assert.equal(scopeOf(tokens, 'secret'), 'entity.name.tag.writ');
});

test('rules, conditions and operators', async () => {
  const tokens = await tokenize(SAMPLE);
  for (const kw of ['start', 'ttl', 'max_depth', 'allow', 'deny', 'require', 'may']) {
    assert.match(scopeOf(tokens, kw), /^keyword\.control\./, kw);
  }
  for (const kw of ['when', 'unless', 'because', 'by', 'for', 'via', 'calls', 'with', 'starts']) {
    assert.match(scopeOf(tokens, kw), /^keyword\.other\./, kw);
  }
  for (const kw of ['and', 'not', 'matches', 'has']) {
    assert.equal(scopeOf(tokens, kw), 'keyword.operator.word.writ', kw);
  }
  assert.equal(scopeOf(tokens, '=='), 'keyword.operator.comparison.writ');
  assert.equal(scopeOf(tokens, '!='), 'keyword.operator.comparison.writ');
  assert.equal(scopeOf(tokens, 'security_reviewer'), 'entity.name.type.role.writ');
  assert.equal(scopeOf(tokens, 'initiator'), 'variable.language.writ');
  assert.equal(scopeOf(tokens, 'initiator', 1), 'variable.language.initiator.writ'); // initiator.org
  assert.equal(scopeOf(tokens, 'context'), 'storage.type.context.writ'); // context incident_open: bool
  assert.equal(scopeOf(tokens, 'context', 1), 'variable.language.context.writ'); // context.incident_open
  assert.equal(scopeOf(tokens, 'context', 2), 'keyword.other.writ'); // a test's context { ... }
  assert.equal(scopeOf(tokens, 'incident_open', 1), 'variable.other.member.writ');
  assert.equal(scopeOf(tokens, 'depth'), 'variable.language.writ');
  assert.equal(scopeOf(tokens, 'caller'), 'variable.language.caller.writ');
  assert.equal(scopeOf(tokens, 'kind'), 'variable.other.member.writ');
  assert.equal(scopeOf(tokens, 'agent'), 'support.constant.kind.writ');
  assert.equal(scopeOf(tokens, 'pending'), 'constant.language.outcome.writ');
  assert.equal(scopeOf(tokens, 'true'), 'constant.language.boolean.writ');
});

test('literals: strings with escapes, integers, durations', async () => {
  const tokens = await tokenize(SAMPLE);
  assert.equal(scopeOf(tokens, 'staging'), 'string.quoted.double.writ');
  assert.equal(scopeOf(tokens, '\\"'), 'constant.character.escape.writ');
  assert.equal(scopeOf(tokens, '\\n'), 'constant.character.escape.writ');
  assert.equal(scopeOf(tokens, '30m'), 'constant.numeric.duration.writ');
  assert.equal(scopeOf(tokens, '90s'), 'constant.numeric.duration.writ');
  assert.equal(scopeOf(tokens, '2'), 'constant.numeric.integer.writ');
  const bad = await tokenize('deny * because "bad \\q escape"');
  assert.equal(scopeOf(bad, '\\q'), 'invalid.illegal.escape.writ');
  assert.equal(scopeOf(bad, '*'), 'entity.name.function.tool.writ');
  // An unterminated string ends with its line.
  const open = await tokenize('deny * because "oops\nrole next');
  assert.equal(scopeOf(open, 'role'), 'storage.type.role.writ');
});

test('identifiers that contain keywords are not keywords', async () => {
  const tokens = await tokenize('require tests_passed, roles_ok for deploy when allowed_env == "x"');
  assert.equal(scopeOf(tokens, 'tests_passed').startsWith('keyword'), false);
  assert.equal(scopeOf(tokens, 'allowed_env').startsWith('keyword'), false);
});

test('every reserved word of writ_grammar::KEYWORDS is highlighted as a keyword', async () => {
  const lib = fs.readFileSync(path.join(repo, 'grammar', 'src', 'lib.rs'), 'utf8');
  const block = lib.match(/pub const KEYWORDS: &\[&str\] = &\[([^\]]*)\]/);
  assert.ok(block, 'KEYWORDS not found in grammar/src/lib.rs');
  const keywords = [...block[1].matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
  assert.ok(keywords.length >= 40, `only ${keywords.length} keywords parsed`);
  const keywordScope = /^(keyword|storage\.type|storage\.modifier|constant\.language|variable\.language)\./;
  for (const kw of keywords) {
    // Each keyword alone on a line, and in the middle of a condition.
    for (const line of [kw, `when x ${kw} y`]) {
      const tokens = await tokenize(line);
      const scope = scopeOf(tokens, kw);
      assert.match(scope, keywordScope, `\`${kw}\` in \`${line}\` has scope ${scope}`);
    }
  }
});

test('every shipped policy tokenizes cleanly, each line ending back at the top level', async () => {
  const grammar = await grammarPromise;
  const files = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.writ')) files.push(full);
    }
  };
  walk(path.join(repo, 'examples'));
  walk(path.join(repo, 'tests', 'lsp-e2e', 'workspace'));
  walk(path.join(repo, 'grammar', 'tests', 'fixtures'));
  assert.ok(files.length >= 5, `only ${files.length} policies found`);
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, n) => {
      // Each line on its own, from the initial state: declarations never span lines in the
      // canonical layout, so no rule may be left open at a line's end.
      const result = grammar.tokenizeLine(line, vsctm.INITIAL);
      const where = `${path.relative(repo, file)}:${n + 1}`;
      for (const t of result.tokens) {
        assert.ok(!t.scopes.some((s) => s.startsWith('invalid')), `${where}: invalid token in \`${line}\``);
      }
      const reopened = grammar.tokenizeLine('role x', result.ruleStack);
      const first = reopened.tokens[0].scopes;
      assert.equal(first[first.length - 1], 'storage.type.role.writ', `${where}: a rule is left open after \`${line}\``);
    });
  }
});
