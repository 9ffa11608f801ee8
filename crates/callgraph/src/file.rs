//! The call-graph file: a frozen [`CallGraph`] as compact UTF-8 text, so a later process can
//! explain why a symbol is kept without the bitcode or LLVM. The shaker writes it beside its report
//! on every link; `portkey why` reads it.
//!
//! Format, one record per line (`\n`), fields separated by one space:
//!
//! ```text
//! portkey-callgraph 1
//! M <module name>                                   one per module, numbered from 0
//! S <kind><defined> <module|-> <prefix> <suffix>    one per symbol, in name order
//! E <source> <edge><delta> <edge><delta> ...        the references of one symbol
//! R <symbol> <reason>                               one per root
//! ```
//!
//! `kind` is `f` (function), `g` (global), `a` (alias) or `i` (ifunc); `defined` is `+`, or `-`
//! for a declaration. Symbol names are front-coded: `prefix` is the number of leading bytes
//! shared with the previous symbol's name and `suffix` the rest of the name, with `\` written as
//! `\\`, a newline as `\n` and a carriage return as `\r`. Sorted mangled names share long
//! prefixes, which roughly halves the file. Symbols and modules are referred to by their
//! position in the file. The targets of an `E` record are sorted, and each is written as its
//! distance from the previous target of the record (the first from 0). Edge codes are listed in
//! [`edge_code`]. Size hints are not stored.

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::builder::{CallGraphBuilder, CallGraphError};
use crate::graph::CallGraph;
use crate::symbol::{EdgeKind, RootReason, Symbol, SymbolId, SymbolKind};

/// First line of every call-graph file, with the format version.
pub const HEADER: &str = "portkey-callgraph 1";

/// Extension of the call-graph file written beside a report.
pub const GRAPH_FILE_EXTENSION: &str = "callgraph";

/// Failure to read or write a call-graph file.
#[derive(Debug, thiserror::Error)]
pub enum GraphFileError {
    #[error("cannot read the call graph {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the call graph {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a call-graph file of this portkey (first line {found:?}, expected {HEADER:?}); \
         delete the file and build again to rewrite it"
    )]
    Header { path: PathBuf, found: String },
    #[error("{path}, line {line}: {message}; delete the file and build again to rewrite it")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "{path} describes an invalid graph: {source}; delete the file and build again to rewrite it"
    )]
    Graph {
        path: PathBuf,
        source: CallGraphError,
    },
}

/// Returns the path of the call-graph file that belongs beside the report at `report`:
/// `hello.json` gives `hello.callgraph`.
pub fn graph_path_beside(report: &Path) -> PathBuf {
    report.with_extension(GRAPH_FILE_EXTENSION)
}

/// One-letter code of an edge kind in the file; roots use [`root_word`] instead.
pub fn edge_code(kind: EdgeKind) -> Option<char> {
    let code = match kind {
        EdgeKind::Root(_) => return None,
        EdgeKind::Call => 'c',
        EdgeKind::Reference => 'r',
        EdgeKind::ConstantRef => 'k',
        EdgeKind::VtableSlot => 'v',
        EdgeKind::TrappedSlot => 't',
        EdgeKind::Alias => 'a',
        EdgeKind::Personality => 'p',
        EdgeKind::Resolver => 'i',
    };
    Some(code)
}

fn edge_of_code(code: char) -> Option<EdgeKind> {
    let kind = match code {
        'c' => EdgeKind::Call,
        'r' => EdgeKind::Reference,
        'k' => EdgeKind::ConstantRef,
        'v' => EdgeKind::VtableSlot,
        't' => EdgeKind::TrappedSlot,
        'a' => EdgeKind::Alias,
        'p' => EdgeKind::Personality,
        'i' => EdgeKind::Resolver,
        _ => return None,
    };
    Some(kind)
}

/// Word for a root reason in an `R` record.
pub fn root_word(reason: RootReason) -> &'static str {
    match reason {
        RootReason::Entry => "entry",
        RootReason::Constructor => "constructor",
        RootReason::Destructor => "destructor",
        RootReason::Used => "used",
        RootReason::NativeReference => "native",
        RootReason::Runtime => "runtime",
    }
}

fn root_of_word(word: &str) -> Option<RootReason> {
    let reason = match word {
        "entry" => RootReason::Entry,
        "constructor" => RootReason::Constructor,
        "destructor" => RootReason::Destructor,
        "used" => RootReason::Used,
        "native" => RootReason::NativeReference,
        "runtime" => RootReason::Runtime,
        _ => return None,
    };
    Some(reason)
}

fn kind_code(kind: SymbolKind) -> char {
    match kind {
        SymbolKind::Function => 'f',
        SymbolKind::Global => 'g',
        SymbolKind::Alias => 'a',
        SymbolKind::IFunc => 'i',
    }
}

fn kind_of_code(code: char) -> Option<SymbolKind> {
    let kind = match code {
        'f' => SymbolKind::Function,
        'g' => SymbolKind::Global,
        'a' => SymbolKind::Alias,
        'i' => SymbolKind::IFunc,
        _ => return None,
    };
    Some(kind)
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => {
                return Err(format!(
                    "invalid escape `\\{}` in a name",
                    other.unwrap_or(' ')
                ));
            }
        }
    }
    Ok(out)
}

/// Number of leading bytes `a` and `b` share, cut back to a character boundary of both.
fn shared_prefix(a: &str, b: &str) -> usize {
    let mut length = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !(a.is_char_boundary(length) && b.is_char_boundary(length)) {
        length -= 1;
    }
    length
}

impl CallGraph {
    /// Writes the graph in the call-graph file format.
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut modules: Vec<&str> = self
            .symbols()
            .iter()
            .filter_map(|symbol| symbol.module.as_deref())
            .collect();
        modules.sort_unstable();
        modules.dedup();

        let mut text = String::with_capacity(64 * 1024);
        text.push_str(HEADER);
        text.push('\n');
        for module in &modules {
            text.push_str("M ");
            escape_into(module, &mut text);
            text.push('\n');
        }

        let mut previous = "";
        for symbol in self.symbols() {
            let module = symbol
                .module
                .as_deref()
                .and_then(|name| modules.binary_search(&name).ok());
            let prefix = shared_prefix(previous, &symbol.name);
            let defined = if symbol.defined { '+' } else { '-' };
            // `fmt::Write for String` never fails.
            let _ = write!(text, "S {}{defined} ", kind_code(symbol.kind));
            match module {
                Some(index) => {
                    let _ = write!(text, "{index} ");
                }
                None => text.push_str("- "),
            }
            let _ = write!(text, "{prefix} ");
            escape_into(&symbol.name[prefix..], &mut text);
            text.push('\n');
            previous = &symbol.name;
            if text.len() >= 60 * 1024 {
                out.write_all(text.as_bytes())?;
                text.clear();
            }
        }

        for (id, _) in self.iter() {
            let references = self.references(id);
            if references.is_empty() {
                continue;
            }
            let _ = write!(text, "E {}", id.index());
            // `references` is sorted by target, so every distance is positive or zero.
            let mut previous_target = 0;
            for (target, kind) in references {
                if let Some(code) = edge_code(kind) {
                    let _ = write!(text, " {code}{}", target.index() - previous_target);
                    previous_target = target.index();
                }
            }
            text.push('\n');
            if text.len() >= 60 * 1024 {
                out.write_all(text.as_bytes())?;
                text.clear();
            }
        }

        for (id, reason) in self.roots() {
            let _ = writeln!(text, "R {} {}", id.index(), root_word(*reason));
        }
        out.write_all(text.as_bytes())
    }

    /// Reads a graph written by [`CallGraph::write_to`]. `path` only names the source in errors.
    pub fn read_from(input: impl BufRead, path: &Path) -> Result<CallGraph, GraphFileError> {
        let mut reader = GraphReader {
            path,
            builder: CallGraphBuilder::new(),
            modules: Vec::new(),
            previous: String::new(),
        };
        let mut lines = input.split(b'\n');
        let header = match lines.next() {
            Some(line) => line.map_err(|source| reader.read_error(source))?,
            None => Vec::new(),
        };
        if header != HEADER.as_bytes() {
            return Err(GraphFileError::Header {
                path: path.to_path_buf(),
                found: String::from_utf8_lossy(&header).chars().take(80).collect(),
            });
        }
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            let line = line.map_err(|source| reader.read_error(source))?;
            if line.is_empty() {
                continue;
            }
            let text = std::str::from_utf8(&line)
                .map_err(|_| reader.syntax(number, "the line is not valid UTF-8".to_string()))?;
            reader
                .record(text)
                .map_err(|message| reader.syntax(number, message))?;
        }
        reader
            .builder
            .build()
            .map_err(|source| GraphFileError::Graph {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Writes the graph to `path` through a temporary file renamed into place, so a reader
    /// never sees a half-written file.
    pub fn save(&self, path: &Path) -> Result<(), GraphFileError> {
        let write_error = |source| GraphFileError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(format!(".tmp-{}", std::process::id()));
        let temporary = PathBuf::from(temporary);
        let written = std::fs::File::create(&temporary).and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            self.write_to(&mut out)?;
            out.flush()
        });
        if let Err(source) = written.and_then(|()| std::fs::rename(&temporary, path)) {
            let _ = std::fs::remove_file(&temporary);
            return Err(write_error(source));
        }
        Ok(())
    }

    /// Reads the call-graph file at `path`.
    pub fn load(path: &Path) -> Result<CallGraph, GraphFileError> {
        let file = std::fs::File::open(path).map_err(|source| GraphFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        CallGraph::read_from(std::io::BufReader::new(file), path)
    }
}

/// State of one read: the graph so far, the module table and the previous name.
struct GraphReader<'a> {
    path: &'a Path,
    builder: CallGraphBuilder,
    modules: Vec<String>,
    previous: String,
}

impl GraphReader<'_> {
    fn read_error(&self, source: std::io::Error) -> GraphFileError {
        GraphFileError::Read {
            path: self.path.to_path_buf(),
            source,
        }
    }

    fn syntax(&self, line: usize, message: String) -> GraphFileError {
        GraphFileError::Syntax {
            path: self.path.to_path_buf(),
            line,
            message,
        }
    }

    fn record(&mut self, text: &str) -> Result<(), String> {
        let (tag, rest) = text
            .split_once(' ')
            .ok_or_else(|| format!("record {text:?} has no fields"))?;
        match tag {
            "M" => {
                self.modules.push(unescape(rest)?);
                Ok(())
            }
            "S" => self.symbol(rest),
            "E" => self.edges(rest),
            "R" => self.root(rest),
            other => Err(format!("unknown record type `{other}`")),
        }
    }

    fn symbol(&mut self, fields: &str) -> Result<(), String> {
        let mut parts = fields.splitn(4, ' ');
        let flags = parts.next().unwrap_or_default();
        let module = parts.next().ok_or("symbol record without a module field")?;
        let prefix = parts
            .next()
            .ok_or("symbol record without a prefix length")?;
        let suffix = parts.next().ok_or("symbol record without a name")?;

        let mut flag_chars = flags.chars();
        let kind = flag_chars
            .next()
            .and_then(kind_of_code)
            .ok_or_else(|| format!("unknown symbol kind in `{flags}`"))?;
        let defined = match flag_chars.next() {
            Some('+') => true,
            Some('-') => false,
            _ => return Err(format!("symbol flags `{flags}` lack `+` or `-`")),
        };
        let prefix: usize = prefix
            .parse()
            .map_err(|_| format!("prefix length `{prefix}` is not a number"))?;
        if prefix > self.previous.len() || !self.previous.is_char_boundary(prefix) {
            return Err(format!(
                "prefix length {prefix} does not fit the previous name {:?}",
                self.previous
            ));
        }
        let mut name = self.previous[..prefix].to_string();
        name.push_str(&unescape(suffix)?);

        let mut symbol = if defined {
            Symbol::new(name.clone(), kind)
        } else {
            Symbol::declaration(name.clone(), kind)
        };
        if module != "-" {
            let index: usize = module
                .parse()
                .map_err(|_| format!("module index `{module}` is not a number"))?;
            let module = self.modules.get(index).ok_or_else(|| {
                format!(
                    "module index {index} is out of range ({} modules)",
                    self.modules.len()
                )
            })?;
            symbol = symbol.with_module(module.clone());
        }
        self.builder
            .add_symbol(symbol)
            .map_err(|error| error.to_string())?;
        self.previous = name;
        Ok(())
    }

    fn edges(&mut self, fields: &str) -> Result<(), String> {
        let mut parts = fields.split(' ');
        let source = self.symbol_id(parts.next().unwrap_or_default())?;
        let mut previous_target = 0usize;
        for edge in parts {
            let mut chars = edge.chars();
            let kind = chars
                .next()
                .and_then(edge_of_code)
                .ok_or_else(|| format!("unknown edge `{edge}`"))?;
            let distance: usize = chars
                .as_str()
                .parse()
                .map_err(|_| format!("edge `{edge}` has no numeric target"))?;
            let index = previous_target
                .checked_add(distance)
                .ok_or_else(|| format!("edge `{edge}` overflows the symbol index"))?;
            let target = self.checked_id(index)?;
            self.builder.add_edge(source, target, kind);
            previous_target = index;
        }
        Ok(())
    }

    fn root(&mut self, fields: &str) -> Result<(), String> {
        let (symbol, word) = fields
            .split_once(' ')
            .ok_or("root record without a reason")?;
        let id = self.symbol_id(symbol)?;
        let reason = root_of_word(word).ok_or_else(|| format!("unknown root reason `{word}`"))?;
        self.builder.add_root(id, reason);
        Ok(())
    }

    /// Parses a symbol position and checks it.
    fn symbol_id(&self, text: &str) -> Result<SymbolId, String> {
        let index: usize = text
            .parse()
            .map_err(|_| format!("symbol index `{text}` is not a number"))?;
        self.checked_id(index)
    }

    /// Checks a symbol position against the symbols read so far.
    fn checked_id(&self, index: usize) -> Result<SymbolId, String> {
        if index >= self.builder.len() {
            return Err(format!(
                "symbol index {index} is out of range ({} symbols)",
                self.builder.len()
            ));
        }
        Ok(SymbolId(index as u32))
    }
}
