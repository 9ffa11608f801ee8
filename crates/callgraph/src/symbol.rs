//! Node and edge vocabulary of the call graph: what a symbol is, how one symbol references
//! another, and why a symbol counts as a root.

use std::fmt;

/// Index of a symbol: in a [`crate::CallGraphBuilder`] the insertion order, in a frozen
/// [`crate::CallGraph`] the position in name order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymbolId(pub(crate) u32);

impl SymbolId {
    /// Position of the symbol in the graph's symbol list.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a symbol names in the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SymbolKind {
    Function,
    /// A global variable: a static, a constant, a vtable or a string literal.
    Global,
    /// A second name for another symbol's address.
    Alias,
    /// An indirect function whose address a resolver picks at load time.
    IFunc,
}

impl fmt::Display for SymbolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            SymbolKind::Function => "function",
            SymbolKind::Global => "global",
            SymbolKind::Alias => "alias",
            SymbolKind::IFunc => "ifunc",
        };
        f.write_str(text)
    }
}

/// Reason a symbol must be kept whatever references it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RootReason {
    /// The program entry, `main` for an executable.
    Entry,
    /// A static constructor list such as `llvm.global_ctors`.
    Constructor,
    /// A static destructor list such as `llvm.global_dtors`.
    Destructor,
    /// A list the compiler must preserve, such as `llvm.used` or `llvm.compiler.used`.
    Used,
    /// A symbol that a native object or library in the final link refers to.
    NativeReference,
    /// A symbol that the C runtime or the language runtime needs by name.
    Runtime,
}

impl fmt::Display for RootReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RootReason::Entry => "entry",
            RootReason::Constructor => "constructor",
            RootReason::Destructor => "destructor",
            RootReason::Used => "used",
            RootReason::NativeReference => "native reference",
            RootReason::Runtime => "runtime",
        };
        f.write_str(text)
    }
}

/// How the source of an edge refers to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeKind {
    /// From the synthetic root to a root symbol.
    Root(RootReason),
    /// A direct call or invoke of the target.
    Call,
    /// An instruction operand other than the callee: the address of a function taken, a static
    /// read or written.
    Reference,
    /// A reference inside a constant: a global initializer or a constant expression.
    ConstantRef,
    /// A function pointer in a slot of a Rust vtable, which a `dyn Trait` method call may use.
    VtableSlot,
    /// From a vtable to the trap function that replaced one of its method slots, because no
    /// reachable dynamic call can use that slot.
    TrappedSlot,
    /// From an alias to the symbol it names.
    Alias,
    /// From a function to the personality routine that unwinds through it.
    Personality,
    /// From an ifunc to its resolver.
    Resolver,
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EdgeKind::Root(reason) => write!(f, "root ({reason})"),
            EdgeKind::Call => f.write_str("call"),
            EdgeKind::Reference => f.write_str("reference"),
            EdgeKind::ConstantRef => f.write_str("constant reference"),
            EdgeKind::VtableSlot => f.write_str("vtable slot"),
            EdgeKind::TrappedSlot => f.write_str("trapped vtable slot"),
            EdgeKind::Alias => f.write_str("alias"),
            EdgeKind::Personality => f.write_str("personality"),
            EdgeKind::Resolver => f.write_str("ifunc resolver"),
        }
    }
}

/// One named symbol of the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    /// False for a declaration whose definition lives outside the graph (libc, native code).
    pub defined: bool,
    /// Size estimate in producer-defined units, for example IR instructions.
    pub size_hint: Option<u64>,
    /// The module or crate that defined the symbol, where the producer knows it.
    pub module: Option<String>,
}

impl Symbol {
    /// Creates a defined symbol with no size hint and no module.
    pub fn new(name: impl Into<String>, kind: SymbolKind) -> Self {
        Symbol {
            name: name.into(),
            kind,
            defined: true,
            size_hint: None,
            module: None,
        }
    }

    /// Creates a symbol that is only declared in the graph.
    pub fn declaration(name: impl Into<String>, kind: SymbolKind) -> Self {
        Symbol {
            defined: false,
            ..Symbol::new(name, kind)
        }
    }

    /// Sets the size hint.
    pub fn with_size_hint(mut self, size: u64) -> Self {
        self.size_hint = Some(size);
        self
    }

    /// Sets the defining module or crate.
    pub fn with_module(mut self, module: impl Into<String>) -> Self {
        self.module = Some(module.into());
        self
    }
}
