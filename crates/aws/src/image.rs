//! The image facts Lambda needs that only the image can tell: its architecture, read from the ELF
//! header of `bootstrap`.

use std::path::Path;

use aws_sdk_lambda::types::Architecture;
use object::{Object, ObjectKind};

use crate::error::AwsError;

/// Reads the Lambda architecture of the executable at `bootstrap`.
pub(crate) fn architecture(bootstrap: &Path) -> Result<Architecture, AwsError> {
    let bytes = std::fs::read(bootstrap).map_err(|source| AwsError::Read {
        path: bootstrap.to_path_buf(),
        source,
    })?;
    architecture_of(&bytes).map_err(|reason| {
        AwsError::Image(format!("{} cannot run on Lambda: {reason}; rebuild it with `portkey shake`", bootstrap.display()))
    })
}

fn architecture_of(bytes: &[u8]) -> Result<Architecture, String> {
    let file = object::File::parse(bytes).map_err(|error| format!("it is not an executable ({error})"))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(format!("it is a {:?} file, and Lambda runs Linux ELF executables", file.format()));
    }
    if !matches!(file.kind(), ObjectKind::Executable | ObjectKind::Dynamic) {
        return Err(format!("it is an ELF {:?} file, not an executable", file.kind()));
    }
    match file.architecture() {
        object::Architecture::X86_64 => Ok(Architecture::X8664),
        object::Architecture::Aarch64 => Ok(Architecture::Arm64),
        other => Err(format!("its architecture is {other:?}, and Lambda runs x86_64 and arm64 only")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_running_test_executable() {
        let me = std::env::current_exe().unwrap();
        let bytes = std::fs::read(me).unwrap();
        let expected = if cfg!(target_arch = "x86_64") { Architecture::X8664 } else { Architecture::Arm64 };
        assert_eq!(architecture_of(&bytes), Ok(expected));
    }

    #[test]
    fn rejects_what_is_not_an_executable() {
        let error = architecture_of(b"#!/bin/sh\necho hi\n").unwrap_err();
        assert!(error.contains("not an executable"), "{error}");
    }
}
