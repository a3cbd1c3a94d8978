//! What the emulator tests of this package share: the repository root, and this package's
//! builds of the ten functions for `sluice_aws::emulator::Stack::deploy`.

use std::path::{Path, PathBuf};

use sluice_aws::emulator::Binaries;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// This package's builds of the ten functions.
pub fn binaries() -> Binaries {
    Binaries(
        [
            ("filter", env!("CARGO_BIN_EXE_filter")),
            (
                "schema-drift-detect",
                env!("CARGO_BIN_EXE_schema-drift-detect"),
            ),
            ("validate", env!("CARGO_BIN_EXE_validate")),
            ("quarantine", env!("CARGO_BIN_EXE_quarantine")),
            ("commit", env!("CARGO_BIN_EXE_commit")),
            ("reconcile", env!("CARGO_BIN_EXE_reconcile")),
            ("maintain", env!("CARGO_BIN_EXE_maintain")),
            ("publish", env!("CARGO_BIN_EXE_publish")),
            ("receive", env!("CARGO_BIN_EXE_receive")),
            ("stream", env!("CARGO_BIN_EXE_stream")),
        ]
        .into_iter()
        .map(|(n, p)| (n.to_string(), PathBuf::from(p)))
        .collect(),
    )
}
