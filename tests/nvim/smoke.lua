-- A headless Neovim smoke test of `writ lsp` through Neovim's built-in LSP client.
--
-- Run by .ci/nvim.sh as `nvim --headless --clean -c 'luafile tests/nvim/smoke.lua'` with
-- WRIT (the binary) and WRIT_NVIM_WORKSPACE (a policy folder) in the environment. It edits
-- buffers only, never writes a file. Each check runs even when an earlier one failed; the
-- last line is "N passed, N failed" and Neovim exits 1 if any failed.
--
-- Works from Neovim 0.7 (Debian bookworm's 0.7.2, which has no `vim.lsp.start`: the client is
-- started with `vim.lsp.start_client` and attached with `vim.lsp.buf_attach_client`).

local writ = os.getenv('WRIT')
local ws = os.getenv('WRIT_NVIM_WORKSPACE')
local GUARD = 30000 -- ms: how long a wait may take before the server counts as hung

local passed, failed = 0, 0
local reset -- restores the buffer between checks, set once it is open
local function log(msg)
  io.stderr:write(msg .. '\n')
end
local function check(name, fn)
  local ok, err = pcall(fn)
  if reset then
    reset()
  end
  if ok then
    passed = passed + 1
    log('ok     ' .. name)
  else
    failed = failed + 1
    log('FAILED ' .. name .. ': ' .. tostring(err))
  end
end
local function finish()
  log(string.format('%d passed, %d failed', passed, failed))
  if failed > 0 then
    vim.cmd('cquit 1')
  else
    vim.cmd('qall!')
  end
end

if not writ or not ws then
  log('WRIT and WRIT_NVIM_WORKSPACE must be set')
  vim.cmd('cquit 2')
end

local function buf_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n') .. '\n'
end

-- Sends a request and returns its result (or raises with the error).
local client_id
local function request(bufnr, method, params)
  local client = vim.lsp.get_client_by_id(client_id)
  assert(client and client.supports_method(method), 'the server does not offer ' .. method)
  local responses, err = vim.lsp.buf_request_sync(bufnr, method, params, GUARD)
  assert(responses, 'no answer to ' .. method .. ': ' .. tostring(err))
  for _, response in pairs(responses) do
    -- Neovim 0.7 names the error `error`, later versions `err`.
    local err = response.err or response.error
    if err then
      error(method .. ' failed: ' .. vim.inspect(err))
    end
    return response.result
  end
  error('no answer to ' .. method)
end

-- Position params for the first occurrence of `needle` on 0-based line `line`, `delta`
-- characters in (ASCII lines, so bytes and UTF-16 units agree).
local function pos_params(bufnr, line, needle, delta)
  local text = vim.api.nvim_buf_get_lines(bufnr, line, line + 1, false)[1]
  local col = assert(text:find(needle, 1, true), needle .. ' not on line ' .. line) - 1
  return {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = line, character = col + (delta or 0) },
  }
end

local function hover_text(result)
  assert(result and result.contents, 'no hover')
  local c = result.contents
  if type(c) == 'string' then
    return c
  end
  if c.value then
    return c.value
  end
  local parts = {}
  for _, item in ipairs(c) do
    table.insert(parts, type(item) == 'string' and item or item.value)
  end
  return table.concat(parts, '\n')
end

local function diagnostics(bufnr)
  return vim.diagnostic.get(bufnr)
end

-- Count the diagnostics notifications per URI, so that "no diagnostics" can be told apart
-- from "nothing published yet".
local published = {}
local default_publish = vim.lsp.handlers['textDocument/publishDiagnostics']
vim.lsp.handlers['textDocument/publishDiagnostics'] = function(err, result, ctx, cfg)
  if result and result.uri then
    published[result.uri] = (published[result.uri] or 0) + 1
  end
  return default_publish(err, result, ctx, cfg)
end

-- Open the policy and start the server -------------------------------------------------------

vim.cmd('edit ' .. vim.fn.fnameescape(ws .. '/workflows.writ'))
local bufnr = vim.api.nvim_get_current_buf()
vim.bo[bufnr].filetype = 'writ'
local original = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)

local initialized = false
local config = {
  name = 'writ',
  cmd = { writ, 'lsp' },
  root_dir = ws,
  workspace_folders = { { uri = vim.uri_from_fname(ws), name = 'workspace' } },
  on_init = function()
    initialized = true
  end,
}
reset = function()
  if not vim.deep_equal(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), original) then
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, original)
  end
end
if vim.lsp.start then
  client_id = vim.lsp.start(config)
else
  client_id = vim.lsp.start_client(config)
  if client_id then
    vim.lsp.buf_attach_client(bufnr, client_id)
  end
end
log('neovim ' .. tostring(vim.version().major) .. '.' .. tostring(vim.version().minor) .. '.' ..
  tostring(vim.version().patch) .. ', client ' .. tostring(client_id))

check('the server starts and initializes', function()
  assert(client_id, 'could not start ' .. writ .. ' lsp')
  assert(vim.wait(GUARD, function()
    return initialized
  end, 20), 'no initialize answer')
end)
if not initialized then
  finish()
  return
end

check('a clean policy has no diagnostics', function()
  local uri = vim.uri_from_bufnr(bufnr)
  assert(vim.wait(GUARD, function()
    return (published[uri] or 0) > 0
  end, 20), 'nothing published for the opened document')
  assert(#diagnostics(bufnr) == 0, vim.inspect(diagnostics(bufnr)))
end)

check('an error appears as you type', function()
  -- Line 4 (0-based 3) is `  allow repo.read`.
  assert(original[4] == '  allow repo.read', original[4])
  vim.api.nvim_buf_set_lines(bufnr, 3, 4, false, { '  allow repo.raed' })
  assert(vim.wait(GUARD, function()
    return #diagnostics(bufnr) > 0
  end, 20), 'no diagnostics for an unknown tool')
  local d = diagnostics(bufnr)[1]
  assert(d.lnum == 3, 'on line ' .. d.lnum)
  assert(d.col == 8, 'at column ' .. d.col)
  assert(d.severity == vim.diagnostic.severity.ERROR)
  assert(d.message:find('unknown tool', 1, true), d.message)
end)

check('the error clears when fixed', function()
  vim.api.nvim_buf_set_lines(bufnr, 3, 4, false, { '  allow repo.read' })
  assert(vim.wait(GUARD, function()
    return #diagnostics(bufnr) == 0
  end, 20), 'diagnostics stay: ' .. vim.inspect(diagnostics(bufnr)))
end)

check('hover shows a role\'s documentation', function()
  -- Line 3 (0-based 2): `  start by developer, maintainer`.
  local text = hover_text(request(bufnr, 'textDocument/hover', pos_params(bufnr, 2, 'maintainer', 1)))
  assert(text:find('Owns a service', 1, true), text)
end)

check('go to definition reaches another file', function()
  local result = request(bufnr, 'textDocument/definition', pos_params(bufnr, 2, 'maintainer', 1))
  assert(result, 'no definition')
  local loc = result.uri and result or result[1]
  local uri = loc.uri or loc.targetUri
  local range = loc.range or loc.targetSelectionRange
  assert(uri:sub(-#'identities.writ') == 'identities.writ', uri)
  assert(range.start.line == 9, 'line ' .. range.start.line)
end)

check('completion offers roles after `by`', function()
  vim.api.nvim_buf_set_lines(bufnr, 2, 3, false, { '  start by ' })
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = 2, character = #'  start by ' },
  }
  -- Let the change reach the server first (Neovim debounces didChange).
  vim.wait(500, function()
    return false
  end)
  local result = request(bufnr, 'textDocument/completion', params)
  local items = result and (result.items or result) or {}
  local labels = {}
  for _, item in ipairs(items) do
    labels[item.label] = true
  end
  assert(labels.developer and labels.maintainer, vim.inspect(vim.tbl_keys(labels)))
end)

check('rename edits every file that uses the name', function()
  local params = pos_params(bufnr, 2, 'developer', 1)
  params.newName = 'engineer'
  local edit = request(bufnr, 'textDocument/rename', params)
  assert(edit, 'no workspace edit')
  local files = {}
  for uri, _ in pairs(edit.changes or {}) do
    files[vim.fn.fnamemodify(vim.uri_to_fname(uri), ':t')] = true
  end
  for _, change in ipairs(edit.documentChanges or {}) do
    files[vim.fn.fnamemodify(vim.uri_to_fname(change.textDocument.uri), ':t')] = true
  end
  for _, f in ipairs({ 'identities.writ', 'workflows.writ', 'tests.writ' }) do
    assert(files[f], f .. ' not edited: ' .. vim.inspect(vim.tbl_keys(files)))
  end
end)

check('rename to a reserved word is refused', function()
  local params = pos_params(bufnr, 2, 'developer', 1)
  params.newName = 'allow'
  local ok, err = pcall(request, bufnr, 'textDocument/rename', params)
  assert(not ok, 'renaming to `allow` was accepted')
  assert(tostring(err):find('allow', 1, true), 'refused without naming `allow`: ' .. tostring(err))
  assert(not tostring(err):find('does not offer', 1, true), tostring(err))
end)

check('formatting is writ fmt', function()
  local messy = {
    'workflow feature_agent{',
    ' start by developer,maintainer',
    'allow repo.read',
    '      allow repo.push when branch!="main" require tests_passed',
    '  allow repo.merge when base == "main" require code_review by maintainer, tests_passed',
    '  allow deploy when env == "staging" require tests_passed }',
    'deny deploy when env=="prod" unless initiator.team=="release"',
  }
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, messy)
  vim.wait(500, function()
    return false
  end)
  local expected = vim.fn.system({ writ, 'fmt', '-' }, buf_text(bufnr))
  assert(vim.v.shell_error == 0, 'writ fmt failed: ' .. expected)
  local edits = request(bufnr, 'textDocument/formatting', {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    options = { tabSize = 2, insertSpaces = true },
  })
  assert(edits and #edits > 0, 'no formatting edits')
  vim.lsp.util.apply_text_edits(edits, bufnr, 'utf-16')
  local got = buf_text(bufnr)
  assert(got == expected, 'formatted:\n' .. got .. '\nwrit fmt says:\n' .. expected)
end)

check('references span the files of the policy', function()
  local params = pos_params(bufnr, 2, 'developer', 1)
  params.context = { includeDeclaration = true }
  local result = request(bufnr, 'textDocument/references', params)
  local files = {}
  for _, loc in ipairs(result or {}) do
    local f = vim.fn.fnamemodify(vim.uri_to_fname(loc.uri), ':t')
    files[f] = (files[f] or 0) + 1
  end
  assert(files['identities.writ'] == 2 and files['workflows.writ'] == 1 and files['tests.writ'] == 1,
    vim.inspect(files))
end)

check('a code action applies "did you mean"', function()
  vim.api.nvim_buf_set_lines(bufnr, 3, 4, false, { '  allow repo.raed' })
  assert(vim.wait(GUARD, function()
    return #diagnostics(bufnr) > 0
  end, 20), 'no diagnostics for an unknown tool')
  local d = diagnostics(bufnr)[1]
  -- Back to an LSP diagnostic: Neovim keeps only some of its fields in user_data.lsp.
  local lsp_diagnostic = vim.tbl_extend('force', (d.user_data and d.user_data.lsp) or {}, {
    range = {
      start = { line = d.lnum, character = d.col },
      ['end'] = { line = d.end_lnum or d.lnum, character = d.end_col or d.col },
    },
    message = d.message,
    severity = d.severity,
    code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code),
    source = d.source,
  })
  local actions = request(bufnr, 'textDocument/codeAction', {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = lsp_diagnostic.range,
    context = { diagnostics = { lsp_diagnostic } },
  })
  local chosen
  for _, action in ipairs(actions or {}) do
    if action.title and action.title:find('repo.read', 1, true) and action.edit then
      chosen = action
    end
  end
  assert(chosen, 'no "did you mean" action: ' .. vim.inspect(actions))
  vim.lsp.util.apply_workspace_edit(chosen.edit, 'utf-16')
  local line = vim.api.nvim_buf_get_lines(bufnr, 3, 4, false)[1]
  assert(line == '  allow repo.read', line)
  assert(vim.wait(GUARD, function()
    return #diagnostics(bufnr) == 0
  end, 20), 'diagnostics stay after the fix')
end)

check('a code lens on each test runs it', function()
  vim.cmd('edit ' .. vim.fn.fnameescape(ws .. '/tests.writ'))
  local tests_buf = vim.api.nvim_get_current_buf()
  if not vim.lsp.buf_is_attached(tests_buf, client_id) then
    vim.lsp.buf_attach_client(tests_buf, client_id)
  end
  local ok, err = pcall(function()
    local lenses = request(tests_buf, 'textDocument/codeLens', { textDocument = { uri = vim.uri_from_bufnr(tests_buf) } })
    assert(lenses and #lenses == 2, 'lenses: ' .. vim.inspect(lenses))
    local lens = lenses[1]
    if not lens.command then
      lens = request(tests_buf, 'codeLens/resolve', lens)
    end
    assert(lens.command and lens.command.command, 'a lens without a command')
    local shown = {}
    local default_show = vim.lsp.handlers['window/showMessage']
    vim.lsp.handlers['window/showMessage'] = function(_, result)
      table.insert(shown, result.message)
    end
    local result = request(tests_buf, 'workspace/executeCommand', {
      command = lens.command.command,
      arguments = lens.command.arguments,
    })
    if result == nil then
      vim.wait(GUARD, function()
        return #shown > 0
      end, 20)
    end
    vim.lsp.handlers['window/showMessage'] = default_show
    local said = vim.inspect(result) .. table.concat(shown, '\n')
    assert(said:find('pass') or said:find('ok'), 'no result reported: ' .. said)
  end)
  vim.cmd('buffer ' .. bufnr)
  assert(ok, err)
end)

check('the server stops and exits', function()
  vim.lsp.stop_client(client_id)
  assert(vim.wait(GUARD, function()
    return vim.lsp.client_is_stopped(client_id)
  end, 20), 'the server did not stop')
end)

finish()
