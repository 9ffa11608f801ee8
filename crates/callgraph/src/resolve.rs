//! Finding symbols by the names people type: the mangled symbol, the demangled path with or
//! without its hash, or a unique part of the demangled path. [`SymbolIndex::explain`] then
//! reports whether the symbol was kept and through which chain of references.

use crate::graph::{CallGraph, PathStep, PathTree};
use crate::names::{demangle, demangle_with_hash, last_segment};
use crate::symbol::SymbolId;

/// Maximum number of candidates listed for a query that matches several symbols.
pub const MAX_CANDIDATES: usize = 10;

/// Maximum number of near matches listed for a query that matches nothing.
pub const MAX_NEAR_MATCHES: usize = 5;

/// Outcome of looking a query up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolMatch {
    /// Exactly one symbol matches.
    Unique(SymbolId),
    /// Several symbols match: the first [`MAX_CANDIDATES`] in name order and the total count.
    Ambiguous {
        candidates: Vec<SymbolId>,
        total: usize,
    },
    /// Nothing matches; `near` contains symbols with similar names, closest first.
    NotFound { near: Vec<SymbolId> },
}

/// Whether the symbol a query names was kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Reachable from a root: the shortest chain of references, root first.
    Kept {
        symbol: SymbolId,
        chain: Vec<PathStep>,
    },
    /// In the graph but unreachable from every root.
    Removed { symbol: SymbolId },
    /// The query matches several symbols.
    Ambiguous {
        candidates: Vec<SymbolId>,
        total: usize,
    },
    /// The query matches no symbol.
    NotFound { near: Vec<SymbolId> },
}

/// The ways a typed name can match a symbol after the exact mangled name, in the order tried.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// The demangled name with its hash.
    HashedName,
    /// The demangled name without the hash.
    PlainName,
    /// Part of the demangled name with its hash, or of the mangled name.
    Contains,
}

/// Readable names of one symbol.
#[derive(Debug, Clone)]
struct Names {
    /// Demangled without the hash, or the symbol itself for non-Rust symbols.
    plain: String,
    /// Demangled with the hash, or the symbol itself for non-Rust symbols.
    hashed: String,
}

/// The demangled names of every symbol of a graph, computed once for many queries.
#[derive(Debug, Clone)]
pub struct SymbolIndex<'g> {
    graph: &'g CallGraph,
    names: Vec<Names>,
}

impl<'g> SymbolIndex<'g> {
    /// Demangles every symbol of `graph`.
    pub fn new(graph: &'g CallGraph) -> Self {
        let names = graph
            .symbols()
            .iter()
            .map(|symbol| Names {
                plain: demangle(&symbol.name).unwrap_or_else(|| symbol.name.clone()),
                hashed: demangle_with_hash(&symbol.name).unwrap_or_else(|| symbol.name.clone()),
            })
            .collect();
        SymbolIndex { graph, names }
    }

    /// Returns the graph this index was built from.
    pub fn graph(&self) -> &'g CallGraph {
        self.graph
    }

    /// Demangled name of `id` without the hash.
    pub fn plain_name(&self, id: SymbolId) -> &str {
        &self.names[id.index()].plain
    }

    /// Demangled name of `id` with the hash, which identifies one symbol.
    pub fn hashed_name(&self, id: SymbolId) -> &str {
        &self.names[id.index()].hashed
    }

    /// Finds the symbols `query` names. Tried in order, the first rule with a match wins: the
    /// exact mangled name, the demangled name with its hash, the demangled name without it, and
    /// finally any symbol whose demangled name (with hash) or mangled name contains the query.
    pub fn resolve(&self, query: &str) -> SymbolMatch {
        let query = query.trim();
        if query.is_empty() {
            return SymbolMatch::NotFound { near: Vec::new() };
        }
        if let Some(id) = self.graph.symbol_id(query) {
            return SymbolMatch::Unique(id);
        }
        for rule in [Rule::HashedName, Rule::PlainName, Rule::Contains] {
            let matches: Vec<SymbolId> = self
                .graph
                .iter()
                .map(|(id, _)| id)
                .filter(|id| self.rule_matches(rule, *id, query))
                .collect();
            match matches.len() {
                0 => continue,
                1 => return SymbolMatch::Unique(matches[0]),
                total => return self.ambiguous(matches, total),
            }
        }
        SymbolMatch::NotFound {
            near: self.near_matches(query),
        }
    }

    /// Resolves `query` and, for a single match, reports whether it was kept and why.
    pub fn explain(&self, tree: &PathTree, query: &str) -> Fate {
        match self.resolve(query) {
            SymbolMatch::Unique(symbol) => match tree.path_to(self.graph, symbol) {
                Some(chain) => Fate::Kept { symbol, chain },
                None => Fate::Removed { symbol },
            },
            SymbolMatch::Ambiguous { candidates, total } => Fate::Ambiguous { candidates, total },
            SymbolMatch::NotFound { near } => Fate::NotFound { near },
        }
    }

    fn rule_matches(&self, rule: Rule, id: SymbolId, query: &str) -> bool {
        let names = &self.names[id.index()];
        match rule {
            Rule::HashedName => names.hashed == query,
            Rule::PlainName => names.plain == query,
            Rule::Contains => {
                names.hashed.contains(query) || self.graph.symbol(id).name.contains(query)
            }
        }
    }

    /// Orders the matches by readable name and keeps the first [`MAX_CANDIDATES`].
    fn ambiguous(&self, mut matches: Vec<SymbolId>, total: usize) -> SymbolMatch {
        matches.sort_by(|a, b| {
            let (a_names, b_names) = (&self.names[a.index()], &self.names[b.index()]);
            a_names
                .plain
                .cmp(&b_names.plain)
                .then_with(|| a_names.hashed.cmp(&b_names.hashed))
        });
        matches.truncate(MAX_CANDIDATES);
        SymbolMatch::Ambiguous {
            candidates: matches,
            total,
        }
    }

    /// Ranks readable names by edit distance to the query, over the whole name or over the last
    /// path segment (plus one), whichever is smaller, and keeps those close enough to be a
    /// plausible typo. Each distinct name appears once.
    fn near_matches(&self, query: &str) -> Vec<SymbolId> {
        let query = strip_hash(query);
        let query_last = last_segment(query);
        let threshold = (query_last.chars().count() / 3).max(2);
        let mut scored: Vec<(usize, &str, SymbolId)> = self
            .graph
            .iter()
            .filter_map(|(id, _)| {
                let plain = self.names[id.index()].plain.as_str();
                let whole = strsim::levenshtein(query, plain);
                let last = strsim::levenshtein(query_last, last_segment(plain)) + 1;
                let score = whole.min(last);
                (score <= threshold).then_some((score, plain, id))
            })
            .collect();
        scored.sort();
        // Equal names have equal scores, so after sorting they are neighbours.
        scored.dedup_by(|later, earlier| later.1 == earlier.1);
        scored
            .into_iter()
            .take(MAX_NEAR_MATCHES)
            .map(|(_, _, id)| id)
            .collect()
    }
}

/// Removes a trailing legacy hash segment (`::h` and 16 hex digits) from a typed name.
fn strip_hash(query: &str) -> &str {
    if let Some((head, hash)) = query.rsplit_once("::h")
        && hash.len() == 16
        && hash.chars().all(|c| c.is_ascii_hexdigit())
    {
        return head;
    }
    query
}

#[cfg(test)]
mod tests {
    use super::strip_hash;

    #[test]
    fn strip_hash_removes_only_legacy_hashes() {
        assert_eq!(
            strip_hash("std::io::_print::h0123456789abcdef"),
            "std::io::_print"
        );
        assert_eq!(strip_hash("std::io::_print"), "std::io::_print");
        assert_eq!(strip_hash("a::hello"), "a::hello");
    }
}
