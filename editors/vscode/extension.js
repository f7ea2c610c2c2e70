// The writ extension: starts `writ lsp` over stdio for `.writ` files and hands every language
// feature (diagnostics, hover, navigation, completion, rename, formatting, code actions, test
// code lenses) to it. Highlighting comes from the TextMate grammar in syntaxes/.
'use strict';

const vscode = require('vscode');
const { LanguageClient, RevealOutputChannelOn } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

/** The executable from the `writ.path` setting; a bare name is looked up on PATH. */
function writPath() {
  const configured = vscode.workspace.getConfiguration('writ').get('path');
  return typeof configured === 'string' && configured.trim() !== '' ? configured.trim() : 'writ';
}

async function startClient(context) {
  const command = writPath();
  // An Executable with no `transport` is spoken to over stdio without extra arguments
  // (`transport: stdio` would append `--stdio`, which `writ lsp` does not take).
  const serverOptions = { command, args: ['lsp'] };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'writ' },
      { scheme: 'untitled', language: 'writ' },
    ],
    synchronize: {
      // A policy directory is one program: tell the server when any policy file changes on disk.
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.writ'),
    },
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };
  client = new LanguageClient('writ', 'writ language server', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    vscode.window.showErrorMessage(
      `writ: could not start \`${command} lsp\` (set \`writ.path\` to the writ executable): ${message}`,
    );
  }
}

async function stopClient() {
  const running = client;
  client = undefined;
  if (running !== undefined) {
    try {
      await running.stop();
    } catch {
      // A server that already died has nothing left to stop.
    }
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('writ.restartServer', async () => {
      await stopClient();
      await startClient(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('writ.path')) {
        await stopClient();
        await startClient(context);
      }
    }),
  );
  await startClient(context);
}

function deactivate() {
  return stopClient();
}

module.exports = { activate, deactivate };
