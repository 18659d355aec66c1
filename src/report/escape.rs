//! Escaping shared by the text outputs. Names come from whoever created the
//! resource (an S3 object key, an IAM role path, an application name), so
//! every value shown is escaped for where it goes:
//!
//! - [`control`] / [`control_lines`]: control characters (C0, DEL, C1) and
//!   the bidirectional formatting characters are rendered visibly
//!   (`\x1b`, `\u{9b}`), never emitted, so a name cannot clear a terminal,
//!   write a hyperlink (OSC 8) or the clipboard (OSC 52), or reorder what
//!   is shown. Every text format applies it first.
//! - [`markdown`], [`markdown_cell`], [`code`], [`code_cell`]: CommonMark /
//!   GFM text and code spans (no raw HTML, links, emphasis or table cells
//!   from a name).
//! - [`csv_cell`]: a spreadsheet cell that would start a formula is
//!   neutralized with a leading `'`.
//!
//! Mermaid, DOT and XML have their own escapes (`graph::mermaid`,
//! `graph::dot`, `graph::svg::escape`), built on [`control`].

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal or a text report as is: C0
/// controls, DEL, C1 controls, and the bidirectional formatting characters
/// (which reorder what a terminal or an editor shows).
fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape_controls(s: &str, keep_newline: bool) -> Cow<'_, str> {
    let keep = |c: char| keep_newline && c == '\n';
    if !s.chars().any(|c| is_control(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_control(c) || keep(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// `s` with every control character rendered visibly, newlines included:
/// for a value shown on one line.
pub fn control(s: &str) -> Cow<'_, str> {
    escape_controls(s, false)
}

/// [`control`], keeping newlines: for a multi-line cell or message.
pub fn control_lines(s: &str) -> Cow<'_, str> {
    escape_controls(s, true)
}

/// Text for CommonMark / GFM inline content (a paragraph, a heading, a list
/// item): on one line, controls visible, and every character that could
/// start markup escaped with a backslash: HTML and autolinks (`<`, `>`),
/// entities (`&`), links and images (`[`, `]`), code (`` ` ``), emphasis
/// and strikethrough (`*`, `~`, and `_` where it is not inside a word:
/// `GITHUB_TOKEN` stays as it is), math (`$`), backslashes, and a heading,
/// list or setext marker at its start. Pipes are left as they are (see
/// [`markdown_cell`]).
pub fn markdown(s: &str) -> String {
    let one_line = s.replace(['\r', '\n'], " ");
    let text = control(&one_line);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let inside_word = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_alphanumeric())
        };
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '&' | '~' | '$' => true,
            '_' => !(inside_word(i.checked_sub(1)) && inside_word(Some(i + 1))),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    // a block marker at the start: `# `, `- `, `+ `, `= `, `1. `, `1) `
    if out.starts_with(['#', '-', '+', '=']) {
        out.insert(0, '\\');
    } else {
        let digits = out.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && out[digits..].starts_with(['.', ')']) {
            out.insert(digits, '\\');
        }
    }
    out
}

/// [`markdown`] for a GFM table cell: pipes escaped too.
pub fn markdown_cell(s: &str) -> String {
    markdown(s).replace('|', "\\|")
}

/// `s` as a CommonMark code span: on one line, controls visible, fenced by
/// more backticks than the longest run in it (and padded when it starts or
/// ends with one), so that no character of it closes the span.
pub fn code(s: &str) -> String {
    let one_line = s.replace(['\r', '\n'], " ");
    let text = control(&one_line);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if text.is_empty() {
        return "` `".to_string();
    }
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// [`code`] for a GFM table cell: pipes escaped (GFM removes the backslash
/// before a pipe inside a code span of a table cell).
pub fn code_cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// A CSV cell a spreadsheet cannot take for a formula: a value starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`;
/// then controls are made visible (newlines kept: the CSV writer quotes
/// them).
pub fn csv_cell(s: &str) -> String {
    let neutral = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    };
    control_lines(&neutral).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_visible() {
        assert_eq!(control("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(control("\x1b]8;;http://x\x07l"), "\\x1b]8;;http://x\\x07l");
        assert_eq!(control("a\u{9b}31m\u{7f}"), "a\\u{9b}31m\\x7f");
        assert_eq!(control("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(control("a\nb\tc\r"), "a\\x0ab\\x09c\\x0d");
        assert_eq!(control_lines("a\nb\x1b"), "a\nb\\x1b");
        assert!(matches!(control("arn:aws:s3:::plain"), Cow::Borrowed(_)));
        assert_eq!(control("ünïcode ✓"), "ünïcode ✓");
    }

    #[test]
    fn markdown_text_cannot_make_markup() {
        assert_eq!(
            markdown("<img src=x onerror=alert(1)>"),
            "\\<img src=x onerror=alert(1)\\>"
        );
        assert_eq!(markdown("a`b*c_d"), "a\\`b\\*c_d");
        assert_eq!(markdown("_em_ GITHUB_TOKEN"), "\\_em\\_ GITHUB_TOKEN");
        assert_eq!(markdown("# x"), "\\# x");
        assert_eq!(markdown("&lt;x"), "\\&lt;x");
        assert_eq!(markdown("- item"), "\\- item");
        assert_eq!(markdown("12. item"), "12\\. item");
        assert_eq!(markdown("a\nb"), "a b");
        assert_eq!(markdown_cell("a|b"), "a\\|b");
        assert_eq!(markdown("\x1b[2J"), "\\\\x1b\\[2J");
    }

    #[test]
    fn code_spans_outlast_the_backticks_inside() {
        assert_eq!(code("arn:aws:s3:::b"), "`arn:aws:s3:::b`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("a``b`"), "``` a``b` ```");
        assert_eq!(code(""), "` `");
        assert_eq!(code_cell("a|b"), "`a\\|b`");
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            let c = csv_cell(s);
            assert!(c.starts_with('\''), "{s:?} -> {c:?}");
        }
        assert_eq!(csv_cell("\tx"), "'\\x09x");
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a\nb"), "a\nb");
    }
}
