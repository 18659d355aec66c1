//! Webhook filter patterns decided by meaning.
//!
//! CodeBuild matches a webhook filter's pattern as a *search*: the pattern
//! may match anywhere in the value (AWS's own `^refs/heads/` example relies
//! on it). A pattern written for one value (`123456`, `refs/heads/main`)
//! then also admits every value that contains it (`1234567`,
//! `refs/heads/main-x`). Each pattern is compiled into two deterministic
//! automata over the alphabet of the field it filters (digits for account
//! ids, git ref characters for refs):
//!
//! - the search language, `\A(?s:.)*(?:P)(?s:.)*\z`, what CodeBuild accepts;
//! - the full-match language, `\A(?:P)\z`, what the pattern says.
//!
//! The pattern is **bypassable** when they differ; the witness is a
//! shortest string in the difference (among those, the one whose last
//! characters come first in the alphabet, so that it reads as the intended
//! value with something added). It admits **anyone** when its full-match
//! language is infinite. A pattern the Rust engine cannot read (look-around,
//! backreferences, possessive quantifiers, other Java dialect features) is
//! not analysed, never passed; one that is invalid in any dialect
//! (unbalanced groups or classes) is invalid.

use std::collections::{BTreeMap, HashMap, VecDeque};

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::util::syntax;
use regex_automata::{Anchored, MatchKind};
use serde::Serialize;

/// What a filter's values are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// GitHub, GitLab or Bitbucket account ids: digits.
    AccountIds,
    /// Git refs (`refs/heads/...`, `refs/tags/...`): the characters a ref
    /// name may hold (no space, `~^:?*[\`, no control characters).
    Refs,
    /// Repository and organization names: letters, digits, `-`, `_`, `.`.
    Names,
}

impl Alphabet {
    /// The alphabet for a filter type; `None` for the types that are no
    /// security boundary or hold no pattern (`EVENT`, `FILE_PATH`, ...).
    pub fn of_filter(filter_type: &str) -> Option<Alphabet> {
        match filter_type {
            "ACTOR_ACCOUNT_ID" => Some(Alphabet::AccountIds),
            "HEAD_REF" | "BASE_REF" => Some(Alphabet::Refs),
            "REPOSITORY_NAME" | "ORGANIZATION_NAME" => Some(Alphabet::Names),
            _ => None,
        }
    }

    /// The characters, in the order witnesses prefer them.
    fn bytes(self) -> Vec<u8> {
        let lower = b'a'..=b'z';
        let upper = b'A'..=b'Z';
        let digits = b'0'..=b'9';
        match self {
            Alphabet::AccountIds => digits.collect(),
            Alphabet::Refs => b"-x"
                .iter()
                .copied()
                .chain(lower.filter(|c| *c != b'x'))
                .chain(digits)
                .chain(b"/._+=@#,%!&'\"()<>;|`$".iter().copied())
                .chain(upper)
                .collect(),
            Alphabet::Names => b"-x"
                .iter()
                .copied()
                .chain(lower.filter(|c| *c != b'x'))
                .chain(digits)
                .chain(b"_.".iter().copied())
                .chain(upper)
                .collect(),
        }
    }
}

/// What a pattern admits, over its field's alphabet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// A shortest value the search accepts and the full match does not;
    /// `None` when the two are the same (the pattern is exact).
    pub bypass: Option<String>,
    /// When the full-match language is infinite: a value it accepts that
    /// is longer than any the pattern's states can count (so one of
    /// infinitely many).
    pub anyone: Option<String>,
    /// Whether the pattern matches no value at all.
    pub empty: bool,
    /// A shortest value the full match accepts (`None` when empty).
    pub shortest: Option<String>,
}

/// The verdict on a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Analysis {
    Decided(Decision),
    /// Valid in CodeBuild's (Java) dialect perhaps, but not readable here:
    /// never a pass.
    NotAnalysed {
        reason: String,
    },
    /// Not a regular expression in any dialect.
    Invalid {
        error: String,
    },
}

/// DFA size bounds: a webhook pattern is small; anything beyond is not analysed.
const SIZE_LIMIT: usize = 8 << 20;

fn build(pattern: &str) -> Result<dense::DFA<Vec<u32>>, Box<dense::BuildError>> {
    dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Anchored)
                .unicode_word_boundary(true)
                .dfa_size_limit(Some(SIZE_LIMIT))
                .determinize_size_limit(Some(SIZE_LIMIT)),
        )
        // Java's \d, \w and (?i) are ASCII unless asked otherwise.
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .thompson(thompson::Config::new().utf8(false))
        .build(pattern)
        .map_err(Box::new)
}

/// Sorts a parse error: invalid in every dialect, or a feature this engine
/// lacks.
fn parse_failure(pattern: &str, e: &regex_syntax::ast::Error) -> Analysis {
    use regex_syntax::ast::ErrorKind as K;
    let at = e.span().start.offset;
    let prev = pattern[..at].chars().last();
    let here = pattern[at..].chars().next();
    let what = e.kind().to_string();
    match e.kind() {
        K::RepetitionMissing
            if here == Some('+') && matches!(prev, Some('*' | '+' | '?' | '}')) =>
        {
            Analysis::NotAnalysed {
                reason: "possessive quantifier".to_string(),
            }
        }
        K::ClassUnclosed
        | K::GroupUnclosed
        | K::GroupUnopened
        | K::RepetitionCountInvalid
        | K::RepetitionCountUnclosed
        | K::RepetitionMissing
        | K::EscapeUnexpectedEof
        | K::ClassRangeInvalid => Analysis::Invalid {
            error: format!("{what} at offset {at}"),
        },
        K::UnsupportedLookAround => Analysis::NotAnalysed {
            reason: "look-around".to_string(),
        },
        K::UnsupportedBackreference => Analysis::NotAnalysed {
            reason: "backreference".to_string(),
        },
        _ => Analysis::NotAnalysed {
            reason: format!("{what} (at offset {at})"),
        },
    }
}

/// Decides a pattern over an alphabet.
pub fn decide(pattern: &str, alphabet: Alphabet) -> Analysis {
    if has_possessive(pattern) {
        // Rust reads `a*+` as a repetition of a repetition, a different language.
        return Analysis::NotAnalysed {
            reason: "possessive quantifier".to_string(),
        };
    }
    if let Err(e) = regex_syntax::ast::parse::Parser::new().parse(pattern) {
        return parse_failure(pattern, &e);
    }
    let full = build(&format!(r"\A(?:{pattern})\z"));
    let search = build(&format!(r"\A(?s:.)*(?:{pattern})(?s:.)*\z"));
    let (full, search) = match (full, search) {
        (Ok(f), Ok(s)) => (f, s),
        (Err(e), _) | (_, Err(e)) => {
            return Analysis::NotAnalysed {
                reason: first_line(&e.to_string()),
            };
        }
    };
    let alphabet = alphabet.bytes();
    let Some(walk_full) = Walk::new(&full) else {
        return not_analysed_start();
    };
    let Some(walk_search) = Walk::new(&search) else {
        return not_analysed_start();
    };
    let bypass = difference(&walk_search, &walk_full, &alphabet);
    let (anyone, empty) = infinite(&walk_full, &alphabet);
    let empty = empty && bypass.is_none();
    let shortest = shortest(&walk_full, &alphabet);
    Analysis::Decided(Decision {
        bypass,
        anyone,
        empty,
        shortest,
    })
}

/// Whether a quantifier outside a character class is followed by `+`
/// (Java's possessive form).
fn has_possessive(pattern: &str) -> bool {
    let mut escaped = false;
    let mut class = 0usize;
    let mut prev: Option<char> = None;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
            prev = None;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' => class += 1,
            ']' if class > 0 => class -= 1,
            '+' if class == 0 && matches!(prev, Some('*' | '+' | '?' | '}')) => return true,
            _ => {}
        }
        // `a++` is possessive, `a+++` is not read further
        prev = if class == 0 && !escaped {
            Some(c)
        } else {
            None
        };
    }
    false
}

fn not_analysed_start() -> Analysis {
    Analysis::NotAnalysed {
        reason: "no start state".to_string(),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

/// A DFA walked over whole strings: accepted means a match ends at the end.
struct Walk<'a> {
    dfa: &'a dense::DFA<Vec<u32>>,
    start: StateID,
}

impl<'a> Walk<'a> {
    fn new(dfa: &'a dense::DFA<Vec<u32>>) -> Option<Walk<'a>> {
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .ok()?;
        Some(Walk { dfa, start })
    }

    fn next(&self, s: StateID, b: u8) -> StateID {
        self.dfa.next_state(s, b)
    }

    /// Whether a string that leads to `s` is accepted.
    fn accepts(&self, s: StateID) -> bool {
        self.dfa.is_match_state(self.dfa.next_eoi_state(s))
    }

    fn dead(&self, s: StateID) -> bool {
        self.dfa.is_dead_state(s) || self.dfa.is_quit_state(s)
    }
}

/// Compares strings by their reversed bytes in alphabet order: the
/// preferred of two equally long strings that reach the same state stays
/// preferred whatever is appended to both.
fn prefer(rank: &HashMap<u8, usize>, a: &[u8], b: &[u8]) -> bool {
    let key = |s: &[u8]| -> Vec<usize> {
        s.iter()
            .rev()
            .map(|c| rank.get(c).copied().unwrap_or(usize::MAX))
            .collect()
    };
    key(a) < key(b)
}

/// A shortest string accepted by `a` and not by `b` (`b`'s language is
/// within `a`'s here: a full match is a search match).
fn difference(a: &Walk<'_>, b: &Walk<'_>, alphabet: &[u8]) -> Option<String> {
    let rank: HashMap<u8, usize> = alphabet.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let mut seen: BTreeMap<(StateID, StateID), ()> = BTreeMap::new();
    let mut layer: BTreeMap<(StateID, StateID), Vec<u8>> = BTreeMap::new();
    layer.insert((a.start, b.start), Vec::new());
    seen.insert((a.start, b.start), ());
    // Bounded by the number of state pairs; the cap guards the loop.
    for _ in 0..=100_000 {
        if layer.is_empty() {
            return None;
        }
        let mut best: Option<&Vec<u8>> = None;
        // values are never empty: the empty string is no witness
        for ((sa, sb), s) in layer.iter().filter(|(_, s)| !s.is_empty()) {
            if a.accepts(*sa) && !b.accepts(*sb) && best.is_none_or(|x| prefer(&rank, s, x)) {
                best = Some(s);
            }
        }
        if let Some(w) = best {
            return Some(String::from_utf8_lossy(w).into_owned());
        }
        let mut next: BTreeMap<(StateID, StateID), Vec<u8>> = BTreeMap::new();
        for ((sa, sb), s) in &layer {
            for &c in alphabet {
                let pair = (a.next(*sa, c), b.next(*sb, c));
                if a.dead(pair.0) || seen.contains_key(&pair) {
                    continue;
                }
                let mut t = s.clone();
                t.push(c);
                match next.get(&pair) {
                    Some(old) if !prefer(&rank, &t, old) => {}
                    _ => {
                        next.insert(pair, t);
                    }
                }
            }
        }
        for pair in next.keys() {
            seen.insert(*pair, ());
        }
        layer = next;
    }
    None
}

/// Whether the language of `w` is infinite over the alphabet (with a
/// witness longer than its live states), and whether it holds no
/// non-empty value.
fn infinite(w: &Walk<'_>, alphabet: &[u8]) -> (Option<String>, bool) {
    // The live states reachable from the start.
    let mut states = vec![w.start];
    let mut index: HashMap<StateID, usize> = HashMap::from([(w.start, 0)]);
    let mut edges: Vec<Vec<usize>> = vec![Vec::new()];
    let mut queue = VecDeque::from([w.start]);
    while let Some(s) = queue.pop_front() {
        let from = index[&s];
        for &c in alphabet {
            let t = w.next(s, c);
            if w.dead(t) {
                continue;
            }
            let to = *index.entry(t).or_insert_with(|| {
                states.push(t);
                edges.push(Vec::new());
                queue.push_back(t);
                states.len() - 1
            });
            edges[from].push(to);
        }
    }
    // Those from which an accepted end can be reached.
    let mut useful: Vec<bool> = states.iter().map(|s| w.accepts(*s)).collect();
    // Values are never empty: a state reached by at least one character
    // must accept.
    let entered = edges.iter().flatten().any(|j| useful[*j]);
    let empty = !entered || !co_reach(&edges, &mut useful)[0];
    if empty {
        return (None, true);
    }
    // Longer than the number of useful states: such a string repeats a
    // state, so the language is infinite exactly when one exists.
    let limit = useful.iter().filter(|u| **u).count() + 1;
    let mut seen: BTreeMap<(usize, usize), ()> = BTreeMap::new();
    let mut queue: VecDeque<(usize, usize, Vec<u8>)> = VecDeque::from([(0, 0, Vec::new())]);
    while let Some((i, len, s)) = queue.pop_front() {
        if len >= limit.max(1) && w.accepts(states[i]) {
            return (Some(String::from_utf8_lossy(&s).into_owned()), false);
        }
        for &c in alphabet {
            let t = w.next(states[i], c);
            let Some(&j) = index.get(&t) else { continue };
            if !useful[j] {
                continue;
            }
            let l = (len + 1).min(limit);
            if seen.insert((j, l), ()).is_none() {
                let mut u = s.clone();
                u.push(c);
                queue.push_back((j, l, u));
            }
        }
    }
    (None, false)
}

/// A shortest non-empty string `w` accepts, first in alphabet order.
fn shortest(w: &Walk<'_>, alphabet: &[u8]) -> Option<String> {
    let mut seen: BTreeMap<StateID, ()> = BTreeMap::new();
    let mut queue: VecDeque<(StateID, Vec<u8>)> = VecDeque::from([(w.start, Vec::new())]);
    while let Some((s, path)) = queue.pop_front() {
        if !path.is_empty() && w.accepts(s) {
            return Some(String::from_utf8_lossy(&path).into_owned());
        }
        for &c in alphabet {
            let t = w.next(s, c);
            if w.dead(t) || seen.insert(t, ()).is_some() {
                continue;
            }
            let mut p = path.clone();
            p.push(c);
            queue.push_back((t, p));
        }
    }
    None
}

/// Marks every state with a path to a marked one; returns the marks.
fn co_reach<'a>(edges: &[Vec<usize>], marks: &'a mut [bool]) -> &'a [bool] {
    loop {
        let mut changed = false;
        for (i, out) in edges.iter().enumerate() {
            if !marks[i] && out.iter().any(|j| marks[*j]) {
                marks[i] = true;
                changed = true;
            }
        }
        if !changed {
            return marks;
        }
    }
}

/// Whether `value` is accepted by the pattern's search (as CodeBuild
/// matches) and by its full match: for tests and for `rules explain`.
pub fn accepts(pattern: &str, value: &str) -> Option<(bool, bool)> {
    let search = regex_automata::meta::Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build(pattern)
        .ok()?;
    let full = regex_automata::meta::Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build(&format!(r"\A(?:{pattern})\z"))
        .ok()?;
    Some((search.is_match(value), full.is_match(value)))
}

/// The check some scanners make instead: split on `|` and require every
/// part to start with `^` and end with `$`. Kept to measure it against
/// [`decide`] on the corpus (docs/guide/account-checks.md, "Against an anchors check").
pub fn anchors_check(pattern: &str) -> bool {
    pattern
        .split('|')
        .all(|p| p.starts_with('^') && p.ends_with('$'))
}

#[cfg(test)]
mod corpus;
