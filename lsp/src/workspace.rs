//! The workspace model: which files form which program, backed by the compiler's salsa
//! database.
//!
//! - Each workspace folder is one program: its `.writ` files, found as `writ check DIR` finds
//!   them (`writ_compiler::load::find`), with policy paths relative to the folder.
//! - An open document overrides the text on disk. A document opened inside a folder that is
//!   not on disk yet joins that folder's program.
//! - A document outside every folder (or without a file path, like `untitled:`) is a program
//!   of its own, as `writ check FILE` would see it.
//!
//! Edits set one [`PolicyFile`]'s text, so salsa re-parses only that file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use salsa::Setter;
use tower_lsp_server::ls_types::Uri;
use writ_compiler::{Database, PolicyFile, PolicyInput};

/// One source file of a program.
#[derive(Clone)]
pub struct FileEntry {
    pub uri: Uri,
    /// Its path in the policy (relative to the folder, `/` separators).
    pub path: String,
    pub input: PolicyFile,
}

/// A set of files compiled together.
pub struct Program {
    /// The workspace folder; `None` for a lone document.
    pub root: Option<PathBuf>,
    pub policy: PolicyInput,
    /// In source order (the byte order of `path`), the same order as the policy's files.
    pub files: Vec<FileEntry>,
}

/// An open document.
#[derive(Clone, Debug)]
pub struct OpenDocument {
    pub version: i32,
    pub text: String,
}

#[derive(Default)]
pub struct Workspace {
    pub db: Database,
    pub programs: Vec<Program>,
    pub open: HashMap<Uri, OpenDocument>,
}

/// Where a document is: program and file index.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub program: usize,
    pub file: usize,
    /// The program's compiler input, so that analysing the file needs no lookup.
    pub policy: PolicyInput,
}

fn relative_path(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> =
        rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn lone_name(uri: &Uri) -> String {
    if let Some(path) = uri.to_file_path()
        && let Some(name) = path.file_name()
    {
        return name.to_string_lossy().into_owned();
    }
    let s = uri.as_str();
    s.rsplit('/').find(|p| !p.is_empty()).unwrap_or(s).to_string()
}

impl Workspace {
    /// Adds a workspace folder: its `.writ` files become one program. A folder without any is
    /// still a program, so that files created in it later join it.
    pub fn add_folder(&mut self, root: PathBuf) {
        if self.programs.iter().any(|p| p.root.as_deref() == Some(&root)) {
            return;
        }
        let found = writ_compiler::load::find(&root).unwrap_or_default();
        let mut files = Vec::new();
        for f in found {
            let Some(uri) = Uri::from_file_path(&f.disk_path) else { continue };
            // A document opened before its folder was added keeps its editor text.
            if let Some(id) = self.locate(&uri) {
                self.remove_file(id);
            }
            let text = match self.open.get(&uri) {
                Some(doc) => doc.text.clone(),
                None => writ_compiler::load::read_text(&f.disk_path).unwrap_or_default(),
            };
            let input = PolicyFile::new(&self.db, f.policy_path.clone(), text);
            files.push(FileEntry { uri, path: f.policy_path, input });
        }
        // Documents already open under the folder but not on disk join it too.
        let pending: Vec<(Uri, String)> = self
            .open
            .iter()
            .filter(|(uri, _)| !files.iter().any(|f| &f.uri == *uri))
            .filter_map(|(uri, doc)| {
                let path = uri.to_file_path()?;
                relative_path(&root, &path)?;
                Some((uri.clone(), doc.text.clone()))
            })
            .collect();
        let policy = PolicyInput::new(&self.db, Vec::new());
        self.programs.push(Program { root: Some(root), policy, files });
        let program = self.programs.len() - 1;
        self.sync_files(program);
        for (uri, text) in pending {
            if let Some(id) = self.locate(&uri) {
                self.remove_file(id);
            }
            self.insert_file(program, uri, text);
        }
    }

    /// The program and file of a document, if it belongs to one.
    pub fn locate(&self, uri: &Uri) -> Option<FileId> {
        self.programs.iter().enumerate().find_map(|(p, prog)| {
            let file = prog.files.iter().position(|f| &f.uri == uri)?;
            Some(FileId { program: p, file, policy: prog.policy })
        })
    }

    /// The text of a file as the compiler sees it.
    pub fn text(&self, id: FileId) -> Option<&str> {
        Some(self.file(id)?.input.text(&self.db))
    }

    /// The line starts of a file's text as the compiler sees it (the compiler's `line_index`
    /// query: built again only when the text changes).
    pub fn line_index(&self, id: FileId) -> Option<&writ_grammar::LineIndex> {
        Some(writ_compiler::db::line_index(&self.db, self.file(id)?.input))
    }

    /// Program `index`, if there is one.
    pub fn program(&self, index: usize) -> Option<&Program> {
        self.programs.get(index)
    }

    fn file(&self, id: FileId) -> Option<&FileEntry> {
        self.programs.get(id.program)?.files.get(id.file)
    }

    /// Opens a document (or replaces an open document's text). Returns the program it is in.
    pub fn open(&mut self, uri: Uri, version: i32, text: String) -> usize {
        self.open.insert(uri.clone(), OpenDocument { version, text: text.clone() });
        self.set_text(uri, text)
    }

    /// Sets the text of a document, placing it in a program first if it is in none.
    pub fn set_text(&mut self, uri: Uri, text: String) -> usize {
        if let Some(id) = self.locate(&uri) {
            let Some(input) = self.file(id).map(|f| f.input) else {
                writ_stdx::never!("`locate` returned a file that is not there");
                return id.program;
            };
            if input.text(&self.db) != &text {
                input.set_text(&mut self.db).to(text);
            }
            return id.program;
        }
        let folder = uri.to_file_path().and_then(|path| {
            self.programs
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((i, p.root.as_deref()?)))
                .filter(|(_, root)| path.starts_with(root))
                // The innermost folder wins.
                .max_by_key(|(_, root)| root.components().count())
                .map(|(i, _)| i)
        });
        match folder {
            Some(program) => {
                self.insert_file(program, uri, text);
                program
            }
            None => {
                let path = lone_name(&uri);
                let input = PolicyFile::new(&self.db, path.clone(), text);
                let policy = PolicyInput::new(&self.db, vec![input]);
                self.programs.push(Program {
                    root: None,
                    policy,
                    files: vec![FileEntry { uri, path, input }],
                });
                self.programs.len() - 1
            }
        }
    }

    fn insert_file(&mut self, program: usize, uri: Uri, text: String) {
        let Some(prog) = self.programs.get(program) else {
            writ_stdx::never!("insert_file into program {program}, which is not there");
            return;
        };
        let root = prog.root.as_deref().unwrap_or(Path::new(""));
        let path = uri
            .to_file_path()
            .and_then(|p| relative_path(root, &p))
            .unwrap_or_else(|| lone_name(&uri));
        let input = PolicyFile::new(&self.db, path.clone(), text);
        let Some(files) = self.programs.get_mut(program).map(|p| &mut p.files) else { return };
        let at = files.partition_point(|f| f.path.as_bytes() < path.as_bytes());
        files.insert(at, FileEntry { uri, path, input });
        self.sync_files(program);
    }

    fn remove_file(&mut self, id: FileId) {
        let Some(prog) = self.programs.get_mut(id.program) else { return };
        if id.file < prog.files.len() {
            prog.files.remove(id.file);
        }
        if prog.root.is_none() && prog.files.is_empty() {
            self.programs.remove(id.program);
        } else {
            self.sync_files(id.program);
        }
    }

    fn sync_files(&mut self, program: usize) {
        let Some(prog) = self.programs.get(program) else { return };
        let inputs: Vec<PolicyFile> = prog.files.iter().map(|f| f.input).collect();
        let policy = prog.policy;
        policy.set_files(&mut self.db).to(inputs);
    }

    /// Closes a document: a file in a folder goes back to its text on disk (or leaves the
    /// program if it is not on disk); a lone document's program goes away. Returns the URIs
    /// whose diagnostics must be cleared and the program to re-check, if any.
    pub fn close(&mut self, uri: &Uri) -> (Vec<Uri>, Option<usize>) {
        self.open.remove(uri);
        let Some(id) = self.locate(uri) else { return (Vec::new(), None) };
        if self.programs.get(id.program).is_some_and(|p| p.root.is_none()) {
            let gone = self.programs.remove(id.program);
            return (gone.files.into_iter().map(|f| f.uri).collect(), None);
        }
        let on_disk = uri.to_file_path().and_then(|p| writ_compiler::load::read_text(&p).ok());
        match on_disk {
            Some(text) => {
                self.set_text(uri.clone(), text);
                (Vec::new(), Some(id.program))
            }
            None => {
                self.remove_file(id);
                (vec![uri.clone()], Some(id.program))
            }
        }
    }

    /// A file changed on disk (created, changed or deleted): open documents keep their editor
    /// text; other files follow the disk. Returns the program to re-check and URIs to clear.
    pub fn disk_changed(&mut self, uri: &Uri) -> (Vec<Uri>, Option<usize>) {
        if self.open.contains_key(uri) {
            return (Vec::new(), None);
        }
        let Some(path) = uri.to_file_path() else { return (Vec::new(), None) };
        if path.extension().is_none_or(|e| e != "writ") {
            return (Vec::new(), None);
        }
        let text = writ_compiler::load::read_text(&path).ok();
        match (self.locate(uri), text) {
            (Some(id), Some(text)) => {
                self.set_text(uri.clone(), text);
                (Vec::new(), Some(id.program))
            }
            (Some(id), None) => {
                self.remove_file(id);
                (vec![uri.clone()], Some(id.program))
            }
            (None, Some(text)) => {
                let inside = self.programs.iter().any(|p| {
                    p.root.as_deref().is_some_and(|root| relative_path(root, &path).is_some())
                });
                if !inside {
                    return (Vec::new(), None);
                }
                let program = self.set_text(uri.clone(), text);
                (Vec::new(), Some(program))
            }
            (None, None) => (Vec::new(), None),
        }
    }
}
