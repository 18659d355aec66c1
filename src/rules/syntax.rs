//! Checks of a CEL expression's text made before it is compiled, for
//! constructs the `cel` interpreter (0.12) parses into something else
//! without an error, and the rendering of its errors as a person reads them.

use cel::Value;

/// The last significant token seen while scanning.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// Start of the expression, an opening bracket, a separator or a
    /// binary operator: a `!` or `-` here is unary.
    Operator,
    /// A name, a literal or a closing bracket: a `-` here is binary.
    Operand,
    /// A unary operator.
    Unary(char),
}

/// The first place (0-based character offset) where the same unary
/// operator is written twice in a row (`!!x`, `--1`, `- -x`), with the
/// operator. `cel` 0.12 evaluates such a chain as a single operator, so
/// `!!true` is false: rules must write `!(!x)` or drop both. Strings and
/// comments are skipped; `!=` and binary minus are not unary.
pub fn doubled_unary(src: &str) -> Option<(usize, char)> {
    let chars: Vec<char> = src.chars().collect();
    let mut prev = Prev::Operator;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '"' || c == '\'' {
            let triple = next == Some(c) && chars.get(i + 2) == Some(&c);
            i += if triple { 3 } else { 1 };
            while i < chars.len() {
                if chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == c
                    && (!triple || (chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c)))
                {
                    i += if triple { 3 } else { 1 };
                    break;
                }
                i += 1;
            }
            prev = Prev::Operand;
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // `in` is a binary operator; a string prefix (r'', b'') is read with its string
            prev = if word == "in" {
                Prev::Operator
            } else {
                Prev::Operand
            };
            continue;
        }
        match c {
            ')' | ']' | '}' => prev = Prev::Operand,
            '.' => {}
            '!' if next == Some('=') => {
                prev = Prev::Operator;
                i += 2;
                continue;
            }
            '!' | '-' if prev != Prev::Operand => {
                if prev == Prev::Unary(c) {
                    return Some((i, c));
                }
                prev = Prev::Unary(c);
            }
            _ => prev = Prev::Operator,
        }
        i += 1;
    }
    None
}

/// A CEL value as a person reads it: `1`, `"arn:..."`, `[1, 2]`, `null`.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{:?}", s.as_str()),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => format!("{u}u"),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(value_text).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(m) => {
            let mut entries: Vec<String> = m
                .map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        cel::objects::Key::String(s) => format!("{:?}", s.as_str()),
                        cel::objects::Key::Int(i) => i.to_string(),
                        cel::objects::Key::Uint(u) => format!("{u}u"),
                        cel::objects::Key::Bool(b) => b.to_string(),
                    };
                    format!("{key}: {}", value_text(v))
                })
                .collect();
            entries.sort();
            format!("{{{}}}", entries.join(", "))
        }
        other => type_name(other).to_string(),
    }
}

/// The CEL type name of a value.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Int(_) => "int",
        Value::UInt(_) => "uint",
        Value::Float(_) => "double",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::List(_) => "list",
        Value::Map(_) => "map",
        Value::Bytes(_) => "bytes",
        Value::Function(..) => "function",
        _ => "value",
    }
}

/// An evaluation error as a person reads it: values written as CEL
/// literals, never as Rust debug output.
pub fn execution_error_text(e: &cel::ExecutionError) -> String {
    use cel::ExecutionError as E;
    let v = value_text;
    match e {
        E::UnsupportedTargetType { target } => {
            format!(
                "invalid argument type: {} ({})",
                v(target),
                type_name(target)
            )
        }
        E::NotSupportedAsMethod { method, target } => format!(
            "method '{method}' is not supported on {} ({})",
            v(target),
            type_name(target)
        ),
        E::UnsupportedKeyType(k) => format!("{} ({}) cannot be a map key", v(k), type_name(k)),
        E::ValuesNotComparable(a, b) => format!(
            "{} ({}) cannot be compared to {} ({})",
            v(a),
            type_name(a),
            v(b),
            type_name(b)
        ),
        E::UnsupportedUnaryOperator(op, a) => format!(
            "unary operator '{op}' does not apply to {} ({})",
            v(a),
            type_name(a)
        ),
        E::UnsupportedBinaryOperator(op, a, b) => format!(
            "operator '{op}' does not apply to {} ({}) and {} ({})",
            v(a),
            type_name(a),
            v(b),
            type_name(b)
        ),
        E::UnsupportedMapIndex(k) => format!("{} ({}) cannot index a map", v(k), type_name(k)),
        E::UnsupportedListIndex(k) => {
            format!("{} ({}) cannot index a list", v(k), type_name(k))
        }
        E::UnsupportedIndex(k, t) => format!(
            "{} ({}) cannot index {} ({})",
            v(k),
            type_name(k),
            v(t),
            type_name(t)
        ),
        E::UnsupportedFunctionCallIdentifierType(_) => {
            "a function is called on something that is not a name".to_string()
        }
        E::UnsupportedFieldsConstruction(_) => "message construction is not supported".to_string(),
        E::DivisionByZero(a) => format!("division of {} by zero", v(a)),
        E::RemainderByZero(a) => format!("remainder of {} by zero", v(a)),
        E::Overflow(op, a, b) => format!("'{op}' overflows on {} and {}", v(a), v(b)),
        E::IndexOutOfBounds(i) => format!("index {} is out of bounds", v(i)),
        // the others carry no value: their own text reads well
        other => other.to_string(),
    }
}

/// A parse error of an expression as one line a person reads: the
/// parser's message and position, never its debug output.
pub fn parse_error_text(e: &cel::ParseErrors) -> String {
    let mut parts: Vec<String> = e
        .errors
        .iter()
        .map(|p| {
            let msg = readable_parse_message(&p.msg);
            if p.pos.0 > 0 && p.pos.1 >= 0 {
                format!("{msg} (line {}, column {})", p.pos.0, p.pos.1 + 1)
            } else {
                msg
            }
        })
        .collect();
    parts.dedup();
    // past the recursion limit the parser's other errors follow from it
    if let Some(deep) = parts.iter().find(|p| p.contains("nests too deeply")) {
        return deep.clone();
    }
    if parts.is_empty() {
        return "the expression could not be parsed".to_string();
    }
    parts.join("; ")
}

/// The parser's message without the debug dump its recursion guard wraps
/// it in (`OtherError(ParseError { ..., msg: "Recursion limit of 96
/// exceeded", ... })`).
fn readable_parse_message(msg: &str) -> String {
    if let Some(at) = msg.find("msg: \"") {
        let rest = &msg[at + 6..];
        if let Some(end) = rest.find('"') {
            let inner = &rest[..end];
            if inner.starts_with("Recursion limit") {
                return format!("{inner}: the expression nests too deeply");
            }
            return inner.to_string();
        }
    }
    if msg.contains("ParseError {") || msg.contains("OtherError(") {
        return "the expression could not be parsed".to_string();
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubled_unary_operators_are_found() {
        for (src, at) in [
            ("!!true", Some((1, '!'))),
            ("!!false", Some((1, '!'))),
            ("--1 == 1", Some((1, '-'))),
            ("- -1 == 1", Some((2, '-'))),
            ("item.a && ! !item.b", Some((12, '!'))),
            ("x == 1 || !!y", Some((11, '!'))),
            ("[1, --2]", Some((5, '-'))),
            ("a in --b", Some((6, '-'))),
        ] {
            assert_eq!(doubled_unary(src), at, "{src}");
        }
        for src in [
            "!(!true)",
            "-(-1) == 1",
            "a - -1",
            "a != !b",
            "a-1",
            "x[0] - -1",
            "f(x) - -1",
            "'!!' == s",
            "\"--\" + s",
            "'''!!'''",
            "1.5e-3 > 0",
            "!x && !y",
            "!-1",
            "a // !!b\n == 1",
        ] {
            assert_eq!(doubled_unary(src), None, "{src}");
        }
    }

    #[test]
    fn values_read_as_cel_literals() {
        assert_eq!(value_text(&Value::Int(1)), "1");
        assert_eq!(
            value_text(&Value::String(std::sync::Arc::new("arn:aws:s3:::b".into()))),
            "\"arn:aws:s3:::b\""
        );
        assert_eq!(
            value_text(&Value::List(std::sync::Arc::new(vec![
                Value::Int(1),
                Value::Null,
                Value::Bool(true)
            ]))),
            "[1, null, true]"
        );
        let e = cel::ExecutionError::UnsupportedBinaryOperator(
            "add",
            Value::Int(1),
            Value::String(std::sync::Arc::new("arn:x".into())),
        );
        let text = execution_error_text(&e);
        assert_eq!(
            text,
            "operator 'add' does not apply to 1 (int) and \"arn:x\" (string)"
        );
        assert!(!text.contains("Int(") && !text.contains("String("));
    }

    #[test]
    fn deep_nesting_is_reported_without_debug_output() {
        // the parser recurses before its own limit stops it: a main
        // thread's stack, not a test thread's
        let text = std::thread::Builder::new()
            .stack_size(64 * 1024 * 1024)
            .spawn(|| {
                let src = format!("{}true{}", "(".repeat(5000), ")".repeat(5000));
                match cel::Program::compile(&src) {
                    Ok(_) => panic!("5,000 nested parentheses compiled"),
                    Err(e) => parse_error_text(&e),
                }
            })
            .unwrap_or_else(|e| panic!("{e}"))
            .join()
            .unwrap_or_else(|_| panic!("the parser panicked"));
        assert_eq!(
            text,
            "Recursion limit of 96 exceeded: the expression nests too deeply (line 1, column 98)"
        );
        for debug in ["OtherError", "ParseError", "source:"] {
            assert!(!text.contains(debug), "{debug} in {text}");
        }
    }
}
