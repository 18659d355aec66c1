//! `pipeaudit completions` and `pipeaudit man`: what the shell and `man`
//! read, generated from the command line's own definition.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::report::EXIT_OK;

/// Prints the completion script of `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<u8, String> {
    let mut cmd = Cli::command();
    super::write_output_with(None, |w| {
        clap_complete::generate(shell, &mut cmd, "pipeaudit", w);
        Ok(())
    })?;
    Ok(EXIT_OK)
}

/// Prints the manual page of `pipeaudit` on stdout, or writes it and one
/// page per command into `out`.
pub fn man(out: Option<&Path>) -> Result<u8, String> {
    let cmd = Cli::command();
    match out {
        None => {
            super::write_output_with(None, |w| clap_mangen::Man::new(cmd).render(w))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir).map_err(|e| {
                format!("cannot write the manual pages into {}: {e}", dir.display())
            })?;
        }
    }
    Ok(EXIT_OK)
}
