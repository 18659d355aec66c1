//! `pipeaudit rules`: the catalog, one rule's documentation, the rule pages.

use super::Error;
use super::load_rules;
use super::output::write_output;
use crate::cli::{RulesArgs, RulesCommand, RulesConfig};
use crate::docs;
use crate::report::EXIT_OK;

/// Lists, explains or writes the pages of the rules (with the packs of
/// --rules, given before the command).
pub fn run(before: &RulesConfig, r: RulesArgs) -> Result<u8, Error> {
    let rules = load_rules(before)?;
    match r.action {
        None => write_output(None, &docs::rules_list(&rules, r.format))?,
        Some(RulesCommand::Docs { out, book }) => {
            let pages = docs::rule_pages(&rules);
            std::fs::create_dir_all(&out).map_err(|e| Error::create(&out, e))?;
            for (name, text) in &pages {
                let p = out.join(name);
                std::fs::write(&p, text).map_err(|e| Error::write(&p, e))?;
            }
            eprintln!("wrote {} page(s) to {}", pages.len(), out.display());
            if let Some(book) = book {
                let blocks = docs::book_blocks(&rules);
                for b in &blocks {
                    let p = book.join(b.page);
                    let text = std::fs::read_to_string(&p).map_err(|e| Error::read(&p, e))?;
                    let fresh = docs::fill_block(&text, b.name, &b.text)
                        .map_err(|e| Error::Stage(format!("{}: {e}", p.display())))?;
                    if fresh != text {
                        std::fs::write(&p, fresh).map_err(|e| Error::write(&p, e))?;
                    }
                }
                eprintln!(
                    "refreshed {} generated block(s) under {}",
                    blocks.len(),
                    book.display()
                );
            }
        }
        Some(RulesCommand::Explain { id, format }) => {
            let rule = rules.get(&id).ok_or_else(|| {
                Error::Usage(format!("no rule {id:?}; `pipeaudit rules` lists them"))
            })?;
            write_output(None, &docs::explain(rule, format))?;
        }
    }
    Ok(EXIT_OK)
}
