use super::*;
use crate::model::Snapshot;

fn demo() -> Arc<Snapshot> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
    Arc::new(Snapshot::load(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}")))
}

fn value(json: serde_json::Value) -> Value {
    crate::rules::engine::cel_value::to_cel(&json, "test", &mut Vec::new()).unwrap_or(Value::Null)
}

/// `pipeline` and `item` bound, `triggers` not.
fn globals() -> Vec<Option<Value>> {
    let mut g = vec![None; GLOBALS.len()];
    g[0] = Some(value(serde_json::json!({
        "name": "p",
        "role_arn": "arn:aws:iam::123456789012:role/demo-000-pipeline-role",
    })));
    g[ITEM] = Some(value(serde_json::json!({
        "a": 1, "f": 1.5, "s": "abc", "b": true, "n": null,
        "l": [1, 2, 3],
        "m": {"k": "v", "n": null},
        "maps": [{"x": 1}, {"x": 2}],
    })));
    g
}

/// The interpreter's answer; `None` for an error or a panic.
fn interpreted(src: &str, g: &[Option<Value>], lookup: Arc<Lookup>) -> Option<Value> {
    let program = cel::Program::compile(src).ok()?;
    let mut root = cel::Context::default();
    functions::register(&mut root, lookup).ok()?;
    let mut ctx = root.new_inner_scope();
    for (name, v) in GLOBALS.iter().zip(g) {
        if let Some(v) = v {
            ctx.add_variable_from_value(*name, v.clone());
        }
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| program.execute(&ctx)))
        .ok()?
        .ok()
}

/// Every value the fast path gives is the interpreter's; it fails
/// exactly where the interpreter does on these (and then defers to it).
#[test]
fn compiled_results_are_the_interpreters() {
    let lookup = Arc::new(Lookup::new(demo()));
    let g = globals();
    let cases = [
        "item.a == 1",
        "item.a == 1.0",
        "item.a == 'x'",
        "item.a > 'x'",
        "item.a + 1",
        "item.a - 3 < 0",
        "item.a * 4 / 2 % 3",
        "item.a / 0",
        "item.f > 1",
        "item.f >= 1.5 && item.f <= 1.5",
        "-item.a",
        "-item.f",
        "-item.s",
        "item.s + 'd'",
        "item.l + [4]",
        "item.s.startsWith('ab')",
        "item.s.endsWith('c')",
        "item.s.contains('b')",
        "item.s.startsWith(1)",
        "item.l.contains(2)",
        "item.m.contains('k')",
        "item.m.contains(item.l)",
        "item.a.contains(1)",
        "item.s.contains(1)",
        "'b' in item.s",
        "2 in item.l",
        "'k' in item.m",
        "'z' in item.m",
        "1 in item.m",
        "item.a in item.s",
        "size(item.l)",
        "item.l.size()",
        "size(item.s)",
        "size(item.m)",
        "size(item.a)",
        "item.l[1]",
        "item.l[5]",
        "item.l[-1]",
        "item.m['k']",
        "item.m['z']",
        "item.m.k",
        "item.m.n == null",
        "item.missing",
        "item.n.x",
        "item.s.x",
        "!item.b",
        "!item.a",
        "!(!item.b)",
        "!(!true)",
        "!(!false)",
        "!(!(!item.b))",
        "-(-item.a)",
        "-(-1) == 1",
        "-(-item.f) == 1.5",
        "item.a - -1",
        "!(!item.a)",
        "item.b && item.a == 1",
        "item.b || item.zz",
        "!item.b || item.zz",
        "!item.b && item.zz",
        "item.zz && false",
        "item.a || true",
        "item.b ? 'y' : 'n'",
        "item.a ? 'y' : 'n'",
        "item.l.exists(x, x > 2)",
        "item.l.all(x, x > 0)",
        "item.l.all(x, x > 1)",
        "item.l.filter(x, x % 2 == 1)",
        "item.l.map(x, x * 2)",
        "item.l.exists_one(x, x == 2)",
        "item.m.exists(k, k == 'k')",
        "item.m.all(k, k != 'q')",
        "item.maps.filter(m, m.x > 1)[0].x",
        "item.maps.exists(m, m.y == 1)",
        "item.l.exists(item, item == 3)",
        "item.l.exists(x, item.l.exists(y, y == x + 1))",
        "item.s.exists(c, true)",
        "item.n.exists(x, true)",
        "[1, item.a] == [1, 1]",
        "item.m == item.m",
        "null == null",
        "pipeline.name",
        "triggers",
        "size(triggers) > 0",
        "role_exists(pipeline.role_arn)",
        "role_trusts(pipeline.role_arn, 'codepipeline.amazonaws.com')",
        "role_exists(item.a)",
        "role_exists('arn:aws:iam::123456789012:role/nope')",
        "image_deprecated('aws/codebuild/standard:1.0')",
    ];
    let mut fast = 0;
    for src in cases {
        let program = cel::Program::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let compiled = Compiled::new(&program).unwrap_or_else(|| panic!("{src}: not compiled"));
        let mark = functions::gaps_len();
        let ours = compiled.eval(&g, &lookup).ok();
        functions::truncate_gaps(mark);
        let theirs = interpreted(src, &g, lookup.clone());
        match (&ours, &theirs) {
            (Some(a), Some(b)) => {
                assert_eq!(a, b, "{src}");
                fast += 1;
            }
            (Some(a), None) => panic!("{src}: compiled gave {a:?}, the interpreter failed"),
            // Deferred to the interpreter: fine, but on these cases the
            // fast path fails only where the interpreter does.
            (None, Some(b)) => panic!("{src}: compiled failed, the interpreter gave {b:?}"),
            (None, None) => {}
        }
    }
    assert!(fast > 50, "only {fast} cases had a value");
}

/// Chained unary operators written with parentheses (the form rules must
/// use: `cel` 0.12 evaluates `!!x` as `!x`, so the loader rejects it) give
/// the right value, compiled and interpreted alike.
#[test]
fn nested_unary_operators_cancel_compiled_and_interpreted() {
    let lookup = Arc::new(Lookup::new(demo()));
    let g = globals();
    for (src, want) in [
        ("!(!true)", Value::Bool(true)),
        ("!(!false)", Value::Bool(false)),
        ("!(!item.b)", Value::Bool(true)),
        ("!(!(!item.b))", Value::Bool(false)),
        ("-(-1) == 1", Value::Bool(true)),
        ("-(-item.a)", Value::Int(1)),
        ("item.a - -1", Value::Int(2)),
    ] {
        let program = cel::Program::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let compiled = Compiled::new(&program).unwrap_or_else(|| panic!("{src}: not compiled"));
        let ours = compiled.eval(&g, &lookup).ok();
        assert_eq!(ours.as_ref(), Some(&want), "{src}: compiled");
        assert_eq!(
            interpreted(src, &g, lookup.clone()).as_ref(),
            Some(&want),
            "{src}: interpreted"
        );
    }
    // what the loader guards against: the interpreter's own answer is wrong
    assert_eq!(
        interpreted("!!true", &g, lookup.clone()),
        Some(Value::Bool(false)),
        "cel evaluates `!!true` correctly now: the loader's check can go"
    );
}

#[test]
fn item_is_the_last_slot() {
    assert_eq!(GLOBALS[ITEM], "item");
}

#[test]
fn every_builtin_expression_compiles() {
    let rules = crate::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    // Account rules run once per snapshot, interpreted: their variables
    // have no slots.
    let per_pipeline = rules
        .rules
        .iter()
        .filter(|r| r.file.scope == crate::rules::Scope::Pipeline);
    for rule in per_pipeline {
        for e in rule.expressions() {
            assert!(
                e.compiled().is_some(),
                "{}: {:?} is not compiled",
                rule.file.id,
                e.program.expression().expr
            );
        }
    }
}

#[test]
fn unknown_names_and_constructs_are_left_to_the_interpreter() {
    for src in [
        "bogus.x",
        "{'a': 1}.a",
        "string(item.a)",
        "item.s.matches('a')",
    ] {
        let program = cel::Program::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert!(Compiled::new(&program).is_none(), "{src} compiled");
    }
}
