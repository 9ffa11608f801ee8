//! Packs a `bootstrap` executable into the zip that Lambda's `provided.al2023` runtime expects,
//! and computes the zip's `CodeSha256` (base64 of its SHA-256, as Lambda reports it).
//!
//! The zip is deterministic: one entry named `bootstrap`, mode 0755, a fixed timestamp
//! (1980-01-01 00:00, the earliest a zip can hold) and a fixed compression level, so the same
//! executable always gives a byte-identical zip. Deployments rely on that to skip uploads whose
//! hash is already known. The packager knows nothing about how the executable was built.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// The name Lambda's custom runtimes execute.
pub const BOOTSTRAP: &str = "bootstrap";

/// Lambda's limit for a zip uploaded directly (50 MB).
pub const DIRECT_UPLOAD_LIMIT: u64 = 50 * 1000 * 1000;

/// How hard to compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// zlib-style deflate at level 9: fast, the default.
    #[default]
    Deflate,
    /// Zopfli deflate: a few percent smaller, many times slower.
    Zopfli,
}

/// The zip written and its fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub zip: PathBuf,
    pub zip_bytes: u64,
    pub bootstrap_bytes: u64,
    /// Base64 SHA-256 of the zip, the value Lambda reports as `CodeSha256`.
    pub code_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot read the executable {path}: {source}")]
    ReadExecutable { path: PathBuf, source: io::Error },
    #[error("{path} is empty; the build produced no executable to package")]
    EmptyExecutable { path: PathBuf },
    #[error("cannot write the zip {path}: {source}")]
    WriteZip { path: PathBuf, source: io::Error },
    #[error("cannot write the zip {path}: {source}")]
    Zip { path: PathBuf, source: zip::result::ZipError },
}

/// Writes `zip_path` holding `executable` as `bootstrap` (mode 0755) and returns its fingerprints.
/// The zip is written to a temporary file beside `zip_path` and renamed into place, so a reader
/// never sees a half-written zip.
pub fn package(executable: &Path, zip_path: &Path, compression: Compression) -> Result<Package, PackageError> {
    let read_error = |source| PackageError::ReadExecutable {
        path: executable.to_path_buf(),
        source,
    };
    let mut code = Vec::new();
    File::open(executable)
        .and_then(|mut file| file.read_to_end(&mut code))
        .map_err(read_error)?;
    if code.is_empty() {
        return Err(PackageError::EmptyExecutable {
            path: executable.to_path_buf(),
        });
    }

    let bytes = zip_bytes(&code, compression).map_err(|source| PackageError::Zip {
        path: zip_path.to_path_buf(),
        source,
    })?;
    write_atomically(zip_path, &bytes).map_err(|source| PackageError::WriteZip {
        path: zip_path.to_path_buf(),
        source,
    })?;

    Ok(Package {
        zip: zip_path.to_path_buf(),
        zip_bytes: bytes.len() as u64,
        bootstrap_bytes: code.len() as u64,
        code_sha256: code_sha256(&bytes),
    })
}

/// Builds the zip in memory.
pub fn zip_bytes(code: &[u8], compression: Compression) -> Result<Vec<u8>, zip::result::ZipError> {
    let level = match compression {
        Compression::Deflate => 9,
        // The zip crate uses Zopfli for levels above 9; the value is the iteration count.
        Compression::Zopfli => 24,
    };
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(level))
        .last_modified_time(DateTime::default())
        .unix_permissions(0o755);

    let mut writer = ZipWriter::new(io::Cursor::new(Vec::new()));
    writer.start_file(BOOTSTRAP, options)?;
    writer.write_all(code)?;
    Ok(writer.finish()?.into_inner())
}

/// Base64 SHA-256, the form of Lambda's `CodeSha256`.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the zip path has no file name"))?;
    let mut temporary_name = file_name.to_os_string();
    temporary_name.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary_name);

    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}
