//! `pipeaudit snapshot`: collect and write the snapshot.

use super::Error;
use super::live::collect_live;
use super::output::write_output_with;
use crate::cli::{GlobalArgs, SnapshotArgs};
use crate::report::EXIT_OK;

/// Collects a snapshot and writes it as JSON, streamed (a large
/// account's text would be as large again as the snapshot).
pub fn run(g: &GlobalArgs, s: &SnapshotArgs) -> Result<u8, Error> {
    let snapshot = collect_live(g)?;
    write_output_with(s.out.output.as_ref(), |out| snapshot.write_json(out))?;
    Ok(EXIT_OK)
}
