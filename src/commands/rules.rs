//! `pipeaudit rules`: the catalog, one rule's documentation, the rule pages.

use super::{load_rules, write_output};
use crate::cli::{AuditArgs, RulesCommand};
use crate::docs::{self, ListFormat};
use crate::report::EXIT_OK;

/// Lists, explains or writes the pages of the rules (with the packs of --rules).
pub fn run(a: &AuditArgs, action: Option<RulesCommand>, format: ListFormat) -> Result<u8, String> {
    let rules = load_rules(a)?;
    match action {
        None => write_output(None, &docs::rules_list(&rules, format))?,
        Some(RulesCommand::Docs { out, book }) => {
            let pages = docs::rule_pages(&rules);
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            for (name, text) in &pages {
                let p = out.join(name);
                std::fs::write(&p, text)
                    .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            }
            eprintln!("wrote {} page(s) to {}", pages.len(), out.display());
            if let Some(book) = book {
                let blocks = docs::book_blocks(&rules);
                for b in &blocks {
                    let p = book.join(b.page);
                    let text = std::fs::read_to_string(&p)
                        .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                    let fresh = docs::fill_block(&text, b.name, &b.text)
                        .map_err(|e| format!("{}: {e}", p.display()))?;
                    if fresh != text {
                        std::fs::write(&p, fresh)
                            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
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
            let rule = rules
                .get(&id)
                .ok_or_else(|| format!("no rule {id:?}; `pipeaudit rules` lists them"))?;
            write_output(None, &docs::explain(rule, format))?;
        }
    }
    Ok(EXIT_OK)
}
