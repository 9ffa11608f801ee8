//! The user's cargo project as `cargo metadata` describes it: which package provides a crate
//! name, how packages depend on each other, the features cargo resolved and where each package
//! comes from. Parsing sources is left to `tree`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cargo_metadata::{Metadata, MetadataCommand, Package, PackageId, TargetKind};

use crate::error::LookupError;
use crate::types::{FoundPackage, PackageSource};

/// An index into `Workspace::packages`.
pub(crate) type PackageIndex = usize;

/// The cargo metadata of the user's project, with the lookups the resolver needs.
pub(crate) struct Workspace {
    metadata: Metadata,
}

impl Workspace {
    /// Runs `cargo metadata` for `manifest_path`, or for the current directory's project.
    pub(crate) fn load(manifest_path: Option<&Path>) -> Result<Workspace, LookupError> {
        let mut command = MetadataCommand::new();
        if let Some(manifest) = manifest_path {
            command.manifest_path(manifest);
        }
        let metadata = command.exec().map_err(|error| LookupError::Metadata {
            manifest: manifest_path
                .map(|path| path.display().to_string())
                .unwrap_or_else(|| "the current directory".to_string()),
            detail: error.to_string(),
        })?;
        Ok(Workspace { metadata })
    }

    pub(crate) fn workspace_root(&self) -> PathBuf {
        self.metadata.workspace_root.clone().into_std_path_buf()
    }

    pub(crate) fn target_dir(&self) -> PathBuf {
        self.metadata.target_directory.clone().into_std_path_buf()
    }

    fn package(&self, index: PackageIndex) -> &Package {
        &self.metadata.packages[index]
    }

    fn index_of(&self, id: &PackageId) -> Option<PackageIndex> {
        self.metadata
            .packages
            .iter()
            .position(|package| &package.id == id)
    }

    /// Returns the library target that other crates can depend on, if the package has one.
    fn lib_target(&self, index: PackageIndex) -> Option<&cargo_metadata::Target> {
        self.package(index).targets.iter().find(|target| {
            target
                .kind
                .iter()
                .any(|kind| matches!(kind, TargetKind::Lib | TargetKind::RLib | TargetKind::DyLib))
        })
    }

    /// Returns the library name as Rust code spells it (underscores).
    pub(crate) fn lib_name(&self, index: PackageIndex) -> Option<String> {
        self.lib_target(index)
            .map(|target| target.name.replace('-', "_"))
    }

    /// Returns the root source file of the package's library.
    pub(crate) fn lib_root(&self, index: PackageIndex) -> Option<PathBuf> {
        self.lib_target(index)
            .map(|target| target.src_path.clone().into_std_path_buf())
    }

    /// Returns whether the library is written in Rust 2015, where `use` paths start at the crate
    /// root.
    pub(crate) fn is_edition_2015(&self, index: PackageIndex) -> bool {
        self.lib_target(index)
            .is_some_and(|target| target.edition == cargo_metadata::Edition::E2015)
    }

    pub(crate) fn package_label(&self, index: PackageIndex) -> String {
        let package = self.package(index);
        format!("{} {}", package.name.as_str(), package.version)
    }

    /// Returns all distinct library names in the project, sorted.
    pub(crate) fn crate_names(&self) -> Vec<String> {
        let names: BTreeSet<String> = (0..self.metadata.packages.len())
            .filter_map(|index| self.lib_name(index))
            .collect();
        names.into_iter().collect()
    }

    /// Chooses the package whose library is named `lib_name`. When several versions provide the
    /// name, a workspace member wins, then a direct dependency of a member, then the highest
    /// version.
    pub(crate) fn package_for_crate(&self, lib_name: &str) -> Option<PackageIndex> {
        let candidates: Vec<PackageIndex> = (0..self.metadata.packages.len())
            .filter(|index| self.lib_name(*index).as_deref() == Some(lib_name))
            .collect();
        let chosen = candidates.iter().copied().max_by(|left, right| {
            let rank = |index: PackageIndex| {
                let package = self.package(index);
                (
                    self.metadata.workspace_members.contains(&package.id),
                    self.is_direct_dependency_of_member(&package.id),
                    package.version.clone(),
                )
            };
            rank(*left).cmp(&rank(*right))
        })?;
        if candidates.len() > 1 {
            tracing::debug!(
                crate_name = lib_name,
                chosen = %self.package_label(chosen),
                candidates = candidates.len(),
                "several packages provide this crate name; chose a workspace member, a direct \
                 dependency of one, or else the highest version"
            );
        }
        Some(chosen)
    }

    fn is_direct_dependency_of_member(&self, id: &PackageId) -> bool {
        let Some(resolve) = &self.metadata.resolve else {
            return false;
        };
        resolve
            .nodes
            .iter()
            .filter(|node| self.metadata.workspace_members.contains(&node.id))
            .any(|node| node.deps.iter().any(|dep| &dep.pkg == id))
    }

    /// Returns the package that `from` calls `extern_name` in its code, renames included.
    pub(crate) fn dependency(&self, from: PackageIndex, extern_name: &str) -> Option<PackageIndex> {
        let resolve = self.metadata.resolve.as_ref()?;
        let id = &self.package(from).id;
        let node = resolve.nodes.iter().find(|node| &node.id == id)?;
        let dep = node
            .deps
            .iter()
            .find(|dep| dep.name.replace('-', "_") == extern_name)?;
        self.index_of(&dep.pkg)
    }

    /// Returns the features cargo resolved for the package, sorted.
    pub(crate) fn features(&self, index: PackageIndex) -> BTreeSet<String> {
        let id = &self.package(index).id;
        let Some(resolve) = &self.metadata.resolve else {
            return BTreeSet::new();
        };
        resolve
            .nodes
            .iter()
            .find(|node| &node.id == id)
            .map(|node| {
                node.features
                    .iter()
                    .map(|feature| feature.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Describes the package for the result: name, version, source and resolved features.
    pub(crate) fn found_package(&self, index: PackageIndex) -> FoundPackage {
        let package = self.package(index);
        let manifest_path = package.manifest_path.clone().into_std_path_buf();
        let source = self.package_source(index);
        FoundPackage {
            name: package.name.to_string(),
            version: package.version.to_string(),
            lib_name: self
                .lib_name(index)
                .unwrap_or_else(|| package.name.replace('-', "_")),
            manifest_path,
            source,
            features: self.features(index).into_iter().collect(),
            tokio: self
                .direct_dependency(index, "tokio")
                .map(|tokio| self.package_source(tokio)),
            http: self
                .nearest_dependency(index, "http")
                .map(|http| self.package_source(http)),
            axum: self
                .nearest_dependency(index, "axum")
                .map(|axum| self.package_source(axum)),
            tower_service: self
                .nearest_dependency(index, "tower-service")
                .map(|service| self.package_source(service)),
        }
    }

    /// Returns where cargo gets the package: its folder, its registry version or its git commit.
    fn package_source(&self, index: PackageIndex) -> PackageSource {
        let package = self.package(index);
        match &package.source {
            None => PackageSource::Path(
                package
                    .manifest_path
                    .parent()
                    .map(|dir| dir.as_std_path().to_path_buf())
                    .unwrap_or_default(),
            ),
            Some(source) => parse_source(&source.repr, &package.version.to_string()),
        }
    }

    /// Returns the package named `name` when `index` depends on it directly (a normal
    /// dependency, under any extern name).
    fn direct_dependency(&self, index: PackageIndex, name: &str) -> Option<PackageIndex> {
        self.normal_dependencies(index)
            .into_iter()
            .find(|&dep| self.package(dep).name.as_str() == name)
    }

    /// Returns the package called `name` that is the fewest normal dependency steps away from
    /// the package `index`: a direct dependency first, then one that a dependency re-exports
    /// (the `http` of `axum::http`).
    fn nearest_dependency(&self, index: PackageIndex, name: &str) -> Option<PackageIndex> {
        let mut seen = vec![index];
        let mut frontier = vec![index];
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for package in frontier {
                for dep in self.normal_dependencies(package) {
                    if self.package(dep).name.as_str() == name {
                        return Some(dep);
                    }
                    if !seen.contains(&dep) {
                        seen.push(dep);
                        next.push(dep);
                    }
                }
            }
            frontier = next;
        }
        None
    }

    /// Returns the normal (not dev or build) dependencies of the package `index`, as resolved.
    fn normal_dependencies(&self, index: PackageIndex) -> Vec<PackageIndex> {
        let Some(resolve) = self.metadata.resolve.as_ref() else {
            return Vec::new();
        };
        let id = &self.package(index).id;
        let Some(node) = resolve.nodes.iter().find(|node| &node.id == id) else {
            return Vec::new();
        };
        node.deps
            .iter()
            .filter(|dep| {
                dep.dep_kinds
                    .iter()
                    .any(|kind| kind.kind == cargo_metadata::DependencyKind::Normal)
            })
            .filter_map(|dep| self.index_of(&dep.pkg))
            .collect()
    }
}

/// Reads a cargo source id such as `registry+https://...` or
/// `git+https://host/repo?branch=main#<commit>`.
pub(crate) fn parse_source(repr: &str, version: &str) -> PackageSource {
    let Some(git) = repr.strip_prefix("git+") else {
        // NOTE: a package from an alternate registry is reported as `Registry` too, without the
        // registry's name, so a shim depends on it as if it came from crates.io.
        return PackageSource::Registry {
            version: version.to_string(),
        };
    };
    let (location, commit) = match git.split_once('#') {
        Some((location, commit)) => (location, Some(commit)),
        None => (git, None),
    };
    let (url, query) = location.split_once('?').unwrap_or((location, ""));
    // Cargo appends the locked commit after `#`; without it, the requested rev, tag or branch
    // in the query is the best pin available.
    let requested = query
        .split('&')
        .find_map(|pair| pair.split_once('=').map(|(_key, value)| value));
    let rev = commit.or(requested).unwrap_or_default().to_string();
    PackageSource::Git {
        url: url.to_string(),
        rev,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ids() {
        let registry = parse_source(
            "registry+https://github.com/rust-lang/crates.io-index",
            "1.0.0",
        );
        assert_eq!(
            registry,
            PackageSource::Registry {
                version: "1.0.0".to_string()
            }
        );

        let sparse = parse_source("sparse+https://index.crates.io/", "0.3.1");
        assert_eq!(
            sparse,
            PackageSource::Registry {
                version: "0.3.1".to_string()
            }
        );

        let locked = parse_source(
            "git+https://example.invalid/org/repo?branch=main#0123abcd",
            "0.1.0",
        );
        let expected = PackageSource::Git {
            url: "https://example.invalid/org/repo".to_string(),
            rev: "0123abcd".to_string(),
        };
        assert_eq!(locked, expected);

        let unlocked = parse_source("git+https://example.invalid/org/repo?tag=v1", "0.1.0");
        let expected = PackageSource::Git {
            url: "https://example.invalid/org/repo".to_string(),
            rev: "v1".to_string(),
        };
        assert_eq!(unlocked, expected);

        let bare = parse_source("git+https://example.invalid/org/repo", "0.1.0");
        let expected = PackageSource::Git {
            url: "https://example.invalid/org/repo".to_string(),
            rev: String::new(),
        };
        assert_eq!(bare, expected);
    }
}
