//! `pipeaudit snapshot`: collect and write the snapshot.

use std::path::PathBuf;

use super::{collect_live, write_output};
use crate::cli::GlobalArgs;
use crate::report::EXIT_OK;

/// Collects a snapshot and writes it as JSON.
pub fn run(g: &GlobalArgs, output: Option<&PathBuf>) -> Result<u8, String> {
    let snapshot = collect_live(g)?;
    let mut text = snapshot.to_json();
    text.push('\n');
    write_output(output, &text)?;
    Ok(EXIT_OK)
}
