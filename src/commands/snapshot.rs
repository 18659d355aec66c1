//! `pipeaudit snapshot`: collect and write the snapshot.

use std::path::PathBuf;

use super::{collect_live, write_output_with};
use crate::cli::GlobalArgs;
use crate::report::EXIT_OK;

/// Collects a snapshot and writes it as JSON, streamed (a large
/// account's text would be as large again as the snapshot).
pub fn run(g: &GlobalArgs, output: Option<&PathBuf>) -> Result<u8, String> {
    let snapshot = collect_live(g)?;
    write_output_with(output, |out| snapshot.write_json(out))?;
    Ok(EXIT_OK)
}
