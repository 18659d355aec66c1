//! `pipeaudit completions` and `pipeaudit man`: what the shell and `man`
//! read, generated from the command line's own definition.

use std::path::Path;

use clap::CommandFactory;

use super::Error;
use super::output::write_output_with;
use crate::cli::Cli;
use crate::report::EXIT_OK;

/// Prints the completion script of `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<u8, Error> {
    let mut cmd = Cli::command();
    write_output_with(None, |w| {
        clap_complete::generate(shell, &mut cmd, "pipeaudit", w);
        Ok(())
    })?;
    Ok(EXIT_OK)
}

/// Prints the manual page of `pipeaudit` on stdout, or writes it and one
/// page per command into `out`.
pub fn man(out: Option<&Path>) -> Result<u8, Error> {
    let cmd = Cli::command();
    match out {
        None => {
            write_output_with(None, |w| clap_mangen::Man::new(cmd).render(w))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| Error::io("write the manual pages into", dir, e))?;
        }
    }
    Ok(EXIT_OK)
}
