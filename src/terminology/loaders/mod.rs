//! Loaders for code systems distributed as files rather than CodeSystem
//! resources. Each returns a [`CodeSystemIndex`] to hand to
//! [`TerminologyService::add_code_system`](super::TerminologyService::add_code_system):
//!
//! ```no_run
//! # use std::{path::Path, sync::Arc};
//! # use ipe::terminology::{loaders, TerminologyService};
//! # fn f(svc: &TerminologyService) -> Result<(), loaders::LoadError> {
//! svc.add_code_system(loaders::loinc::load(Path::new("Loinc_2.77/LoincTable/Loinc.csv"), Some("2.77"))?);
//! svc.add_code_system(loaders::snomed::load(Path::new("SnomedCT_InternationalRF2/Snapshot"))?);
//! # Ok(()) }
//! ```

mod csv;
pub mod loinc;
pub mod snomed;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Format {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("no {0} found")]
    Missing(String),
}

fn read(path: &std::path::Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })
}
