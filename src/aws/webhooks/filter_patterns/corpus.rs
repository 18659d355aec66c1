//! The corpus webhook filter patterns are decided on: each pattern with
//! the verdict it must get and, when bypassable, the witness. The figures
//! of the comparison with an anchors check are in docs/guide/account-checks.md.

use super::{Alphabet, Analysis, accepts, anchors_check, decide};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// The search and the full match accept the same finite set.
    Exact,
    /// Bypassable with this witness; the full match is finite.
    Bypass(&'static str),
    /// Not bypassable, but the full match admits infinitely many values.
    Anyone,
    /// Bypassable with this witness, and infinite.
    BypassAnyone(&'static str),
    /// Matches nothing.
    Empty,
    /// Not analysed; the reason contains this.
    NotAnalysed(&'static str),
    /// Invalid in every dialect.
    Invalid,
}

use Alphabet::{AccountIds as Id, Names as Nm, Refs as Rf};
use Want::*;

const CORPUS: &[(&str, Alphabet, Want)] = &[
    // account ids: anchored and unanchored
    ("123456", Id, Bypass("1234560")),
    ("^123456$", Id, Exact),
    ("^123456", Id, Bypass("1234560")),
    ("123456$", Id, Bypass("0123456")),
    (r"\A123456\z", Id, Exact),
    (r"^(?:\A123\z)$", Id, Exact),
    ("^1234567890123$", Id, Exact),
    // alternations, with and without group anchoring
    ("^(123|456)$", Id, Exact),
    ("^(?:123|456)$", Id, Exact),
    ("^123|456$", Id, Bypass("1230")),
    ("123|456", Id, Bypass("1230")),
    ("^(123|456)", Id, Bypass("1230")),
    ("(123|456)$", Id, Bypass("0123")),
    ("^123$|^456$", Id, Exact),
    ("^123$|456", Id, Bypass("4560")),
    // CodeBreach-shaped filters: trusted maintainers' ids in an
    // alternation without anchors (a new account whose id contains one
    // passes), and the same anchored as a group
    ("755743|8730463|45013227", Id, Bypass("7557430")),
    ("(755743|8730463|45013227)", Id, Bypass("7557430")),
    ("^(755743|8730463|45013227)$", Id, Exact),
    ("^755743|8730463|45013227$", Id, Bypass("7557430")),
    // nested groups
    ("^((123)|(456))$", Id, Exact),
    ("^(1(2(3)))$", Id, Exact),
    ("^(?:(?:12)3|(?:45)6)$", Id, Exact),
    // character classes, repetition
    ("^12[3-5]$", Id, Exact),
    ("^12[3-5]", Id, Bypass("1230")),
    ("[1]23", Id, Bypass("1230")),
    ("^123?$", Id, Exact),
    ("^(123){2}$", Id, Exact),
    ("^1{3}$", Id, Exact),
    (r"^\d{6}$", Id, Exact),
    ("1?23", Id, Bypass("230")),
    (r"\b123\b", Id, Exact),
    // admits anyone
    ("^.*$", Id, Anyone),
    (".*", Id, Anyone),
    (r"^\d+$", Id, Anyone),
    ("^[0-9]+$", Id, Anyone),
    ("^(123)+$", Id, Anyone),
    ("^(123)*$", Id, Anyone),
    (r"^\d*123$", Id, Anyone),
    ("^0*123$", Id, Anyone),
    ("123.*", Id, BypassAnyone("0123")),
    (r"\d+", Id, Anyone),
    // case-insensitive flags
    ("(?i)^123$", Id, Exact),
    // empty languages
    ("$^", Id, Empty),
    ("a^", Id, Empty),
    ("^[a-z]+$", Id, Empty),
    ("^$", Id, Empty),
    // refs
    ("refs/heads/main", Rf, Bypass("refs/heads/main-")),
    ("^refs/heads/main$", Rf, Exact),
    ("^refs/heads/main", Rf, Bypass("refs/heads/main-")),
    ("refs/heads/main$", Rf, Bypass("-refs/heads/main")),
    ("^refs/heads/main$|^refs/heads/dev$", Rf, Exact),
    ("^refs/heads/(main|master)$", Rf, Exact),
    ("^refs/heads/main|master$", Rf, Bypass("-master")),
    (r"^refs/heads/release/v1\.0$", Rf, Exact),
    ("^refs/heads/release/v1.0$", Rf, Exact),
    (r"refs/tags/v1\.0", Rf, Bypass("refs/tags/v1.0-")),
    (r"^refs/tags/v[0-9]+\.[0-9]+\.[0-9]+$", Rf, Anyone),
    ("(?i)^refs/heads/MAIN$", Rf, Exact),
    ("(?i)refs/heads/main", Rf, Bypass("refs/heads/main-")),
    ("^refs/heads/.*$", Rf, Anyone),
    (r"^refs/pull/\d+/head$", Rf, Anyone),
    ("^refs/heads/", Rf, Bypass("refs/heads/-")),
    // repository and organization names
    ("my-repo", Nm, Bypass("my-repo-")),
    ("^my-repo$", Nm, Exact),
    ("^(app|web)-service$", Nm, Exact),
    ("^my-org", Nm, Bypass("my-org-")),
    // not analysed: look-around, backreferences, other dialect features
    (r"^(?!123$)\d+$", Id, NotAnalysed("look-around")),
    ("(?<=refs/heads/)main", Rf, NotAnalysed("look-around")),
    (r"^(\d)\1$", Id, NotAnalysed("backreference")),
    (r"^\d++$", Id, NotAnalysed("possessive")),
    (r"^123\Z", Id, NotAnalysed("escape")),
    ("^(?>123)$", Id, NotAnalysed("flag")),
    // invalid syntax
    ("^(123$", Id, Invalid),
    ("[0-9", Id, Invalid),
    ("*123", Id, Invalid),
    ("123)", Id, Invalid),
    ("^12{3,2}$", Id, Invalid),
    ("123\\", Id, Invalid),
];

/// Every string over the alphabet of length `n`.
fn all_of_length(alphabet: &[u8], n: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    for _ in 0..n {
        out = out
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{}", *c as char)))
            .collect();
    }
    out
}

#[test]
fn the_corpus_is_decided_as_written() {
    assert!(CORPUS.len() >= 60, "{} patterns", CORPUS.len());
    let mut wrong = Vec::new();
    for &(pattern, alphabet, want) in CORPUS {
        let got = decide(pattern, alphabet);
        let ok = match (&got, want) {
            (Analysis::Decided(d), Exact) => d.bypass.is_none() && d.anyone.is_none() && !d.empty,
            (Analysis::Decided(d), Bypass(w)) => {
                d.bypass.as_deref() == Some(w) && d.anyone.is_none()
            }
            (Analysis::Decided(d), Anyone) => d.bypass.is_none() && d.anyone.is_some(),
            (Analysis::Decided(d), BypassAnyone(w)) => {
                d.bypass.as_deref() == Some(w) && d.anyone.is_some()
            }
            (Analysis::Decided(d), Empty) => d.empty && d.bypass.is_none() && d.anyone.is_none(),
            (Analysis::NotAnalysed { reason }, NotAnalysed(r)) => reason.contains(r),
            (Analysis::Invalid { .. }, Invalid) => true,
            _ => false,
        };
        if !ok {
            wrong.push(format!("{pattern:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A witness is accepted by the pattern's search and not by its full
/// match (checked with the regex engine, not the automata); an `anyone`
/// witness is accepted by the full match.
#[test]
fn witnesses_are_what_they_claim() {
    for &(pattern, alphabet, _) in CORPUS {
        let Analysis::Decided(d) = decide(pattern, alphabet) else {
            continue;
        };
        if let Some(w) = &d.bypass {
            assert_eq!(
                accepts(pattern, w),
                Some((true, false)),
                "{pattern:?} {w:?}"
            );
        }
        if let Some(w) = &d.anyone {
            assert_eq!(
                accepts(pattern, w).map(|a| a.1),
                Some(true),
                "{pattern:?} {w:?}"
            );
        }
    }
}

/// No shorter account id is a witness: every shorter string over the
/// digits is accepted by both or by neither.
#[test]
fn account_id_witnesses_are_shortest() {
    let digits: Vec<u8> = (b'0'..=b'9').collect();
    let mut checked = 0;
    for &(pattern, alphabet, _) in CORPUS {
        let Analysis::Decided(d) = decide(pattern, alphabet) else {
            continue;
        };
        let Some(w) = d.bypass.filter(|w| alphabet == Id && w.len() <= 4) else {
            continue;
        };
        for n in 0..w.len() {
            for s in all_of_length(&digits, n) {
                let (search, full) = accepts(pattern, &s).unwrap_or((false, false));
                assert_eq!(search, full, "{pattern:?}: {s:?} is shorter than {w:?}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 8, "{checked}");
}

/// The anchors check against the decision, on the account-id patterns the
/// decision reads: how many each gets right (a pattern is safe when it is
/// neither bypassable nor open to anyone). docs/guide/account-checks.md quotes these figures.
#[test]
fn an_anchors_check_misses_and_cries_wolf() {
    let mut decided = 0;
    let mut anchors_right = 0;
    let mut false_alarms = Vec::new();
    let mut missed = Vec::new();
    for &(pattern, alphabet, _) in CORPUS {
        let Analysis::Decided(d) = decide(pattern, alphabet) else {
            continue;
        };
        let safe = d.bypass.is_none() && d.anyone.is_none();
        decided += 1;
        let passes = anchors_check(pattern);
        if passes == safe {
            anchors_right += 1;
        } else if passes {
            missed.push(pattern);
        } else {
            false_alarms.push(pattern);
        }
    }
    assert!(missed.contains(&"^.*$") && missed.contains(&r"^\d+$"));
    assert!(false_alarms.contains(&"^(123|456)$"));
    assert_eq!(
        (decided, anchors_right, missed.len(), false_alarms.len()),
        (66, 43, 10, 13),
        "missed {missed:?}\nfalse alarms {false_alarms:?}"
    );
}
