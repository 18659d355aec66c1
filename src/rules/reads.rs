//! What an expression reads, found by walking its parsed tree: the one
//! place that decides which variables (and which `pipeline` fields) an
//! expression uses, which functions it calls and which names it mentions.
//! Rule validation, the bindings the engine builds and the gaps it blames
//! on a failed rule all ask it.

use std::collections::BTreeSet;

use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr};

/// What one or more expressions read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reads {
    /// Free variables (a comprehension's own variables are not).
    pub vars: BTreeSet<String>,
    /// `pipeline` used in another way than `pipeline.field` (passed whole
    /// to a function, indexed, compared, `has()`): every field counts as read.
    pub pipeline_whole: bool,
    /// The fields `pipeline.field` selects.
    pub pipeline_fields: BTreeSet<String>,
    /// Called functions, operators included (`_&&_`, `!_`, `@in`).
    pub functions: BTreeSet<String>,
    /// Whether a `has()` presence test appears.
    pub presence_test: bool,
    /// Every name the expression mentions: identifiers (comprehension
    /// variables too), selected fields, called functions, and the words of
    /// its string literals (a field named by index: `m["field"]`).
    pub names: BTreeSet<String>,
}

impl Reads {
    /// What `e` reads.
    pub fn of(e: &IdedExpr) -> Reads {
        let mut reads = Reads::default();
        reads.walk(e, &mut Vec::new());
        reads
    }

    /// Adds what `other` reads.
    pub fn add(&mut self, other: &Reads) {
        self.vars.extend(other.vars.iter().cloned());
        self.pipeline_whole |= other.pipeline_whole;
        self.pipeline_fields
            .extend(other.pipeline_fields.iter().cloned());
        self.functions.extend(other.functions.iter().cloned());
        self.presence_test |= other.presence_test;
        self.names.extend(other.names.iter().cloned());
    }

    /// Whether the variable `name` is read.
    pub fn var(&self, name: &str) -> bool {
        self.vars.contains(name)
    }

    /// Whether `pipeline.<field>` is read.
    pub fn pipeline_field(&self, field: &str) -> bool {
        self.pipeline_whole || self.pipeline_fields.contains(field)
    }

    fn walk<'a>(&mut self, e: &'a IdedExpr, shadowed: &mut Vec<&'a str>) {
        match &e.expr {
            Expr::Ident(name) => {
                self.names.insert(name.clone());
                // `@result`-like names are the interpreter's accumulators.
                if !shadowed.contains(&name.as_str()) && !name.starts_with('@') {
                    if name == "pipeline" {
                        self.pipeline_whole = true;
                    }
                    self.vars.insert(name.clone());
                }
            }
            Expr::Select(sel) => {
                self.names.insert(sel.field.clone());
                self.presence_test |= sel.test;
                match &sel.operand.expr {
                    Expr::Ident(name)
                        if name == "pipeline" && !shadowed.contains(&"pipeline") && !sel.test =>
                    {
                        self.names.insert(name.clone());
                        self.vars.insert(name.clone());
                        self.pipeline_fields.insert(sel.field.clone());
                    }
                    _ => self.walk(&sel.operand, shadowed),
                }
            }
            Expr::Call(call) => {
                self.functions.insert(call.func_name.clone());
                self.names.insert(call.func_name.clone());
                if let Some(t) = &call.target {
                    self.walk(t, shadowed);
                }
                for a in &call.args {
                    self.walk(a, shadowed);
                }
            }
            Expr::Comprehension(c) => {
                self.walk(&c.iter_range, shadowed);
                self.walk(&c.accu_init, shadowed);
                let depth = shadowed.len();
                shadowed.push(&c.iter_var);
                shadowed.extend(c.iter_var2.as_deref());
                shadowed.push(&c.accu_var);
                self.names.insert(c.iter_var.clone());
                self.names.extend(c.iter_var2.iter().cloned());
                self.walk(&c.loop_cond, shadowed);
                self.walk(&c.loop_step, shadowed);
                self.walk(&c.result, shadowed);
                shadowed.truncate(depth);
            }
            Expr::List(l) => {
                for item in &l.elements {
                    self.walk(item, shadowed);
                }
            }
            Expr::Map(m) => {
                for entry in &m.entries {
                    if let EntryExpr::MapEntry(me) = &entry.expr {
                        self.walk(&me.key, shadowed);
                        self.walk(&me.value, shadowed);
                    }
                }
            }
            Expr::Struct(st) => {
                for entry in &st.entries {
                    match &entry.expr {
                        EntryExpr::StructField(f) => self.walk(&f.value, shadowed),
                        EntryExpr::MapEntry(me) => {
                            self.walk(&me.key, shadowed);
                            self.walk(&me.value, shadowed);
                        }
                    }
                }
            }
            Expr::Literal(cel::common::value::CelVal::String(s)) => {
                self.names.extend(
                    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .filter(|w| !w.is_empty())
                        .map(str::to_string),
                );
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(src: &str) -> Reads {
        let p = cel::Program::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        Reads::of(p.expression())
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn comprehension_variables_are_not_free() {
        let r = reads("builds.exists(b, b.project.privileged) && x.all(y, y == b)");
        assert_eq!(r.vars, set(&["b", "builds", "x"]));
        assert!(r.names.contains("privileged") && r.names.contains("y"));
    }

    #[test]
    fn pipeline_fields_are_told_from_the_whole_pipeline() {
        let r = reads("pipeline.shape.build_stage > 0 && pipeline.role_arn != null");
        assert_eq!(r.pipeline_fields, set(&["shape", "role_arn"]));
        assert!(!r.pipeline_whole && r.pipeline_field("shape") && !r.pipeline_field("stages"));
        assert!(reads("size(pipeline) > 0").pipeline_whole);
        assert!(reads("has(pipeline.stages)").pipeline_whole);
        assert!(!reads("sources.exists(pipeline, pipeline.x)").var("pipeline"));
    }

    #[test]
    fn presence_tests_functions_and_literal_words_are_found() {
        let r = reads("has(item.a) && kms_key_allows(item['key_arn'], 'aws:kms')");
        assert!(r.presence_test);
        assert!(r.functions.contains("kms_key_allows") && r.functions.contains("_&&_"));
        assert!(
            ["key_arn", "aws", "kms"]
                .iter()
                .all(|w| r.names.contains(*w))
        );
        assert!(!reads("item.has_key == 'has('").presence_test);
    }
}
