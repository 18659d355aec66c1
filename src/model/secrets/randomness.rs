//! Whether a token looks random.

use super::*;

pub(super) fn looks_like_secret_access_key(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 40
        && b.iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'/' || *b == b'+')
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(u8::is_ascii_uppercase)
        && shannon_entropy(v) > 3.5
        && (looks_random(b) || switches_case_often(b))
}

/// The exact 40-character shape of a secret access key needs less proof
/// of randomness: case switches often and lower-case runs are short, as in
/// AWS's own documentation example key, unlike camel-case names.
pub(super) fn switches_case_often(b: &[u8]) -> bool {
    let alnum: Vec<u8> = b
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    class_change_ratio(&alnum) >= 0.3 && mean_lower_run(&alnum) < 2.5
}

/// Documented prefixes of keys that are public by design (Stripe
/// publishable keys).
pub(super) const PUBLIC_TOKEN_PREFIXES: &[&str] = &["pk_live_", "pk_test_"];

/// A single long token of base64, base64url or hex characters that looks
/// random (and is not a UUID, a path, a generated name or a public key).
pub(super) fn looks_like_token(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 20
        && !PUBLIC_TOKEN_PREFIXES.iter().any(|p| v.starts_with(p))
        && b.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-'))
        && !is_uuid(v)
        && !is_structural(v)
        && looks_random(b)
}

/// Whether a string of letters and digits (separators ignored) looks
/// random rather than made of words and numbers.
pub(super) fn looks_random(s: &[u8]) -> bool {
    let all: Vec<u8> = s
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    if all.len() < 16 {
        return false;
    }
    let hex = all.iter().all(u8::is_ascii_hexdigit)
        && !(all.iter().any(u8::is_ascii_lowercase) && all.iter().any(u8::is_ascii_uppercase));
    if hex {
        let digits = all.iter().filter(|b| b.is_ascii_digit()).count();
        return all.len() >= 32 && digits > 0 && digits < all.len() && entropy_bytes(&all) >= 3.0;
    }
    // A CDK logical id ends in an 8-digit upper-case hex hash
    // (`BuildProjectRole6E8C4F1A`): judge the words before it.
    let alnum = strip_cdk_hash(&all);
    let n = alnum.len();
    let letters = alnum.iter().filter(|b| b.is_ascii_alphabetic()).count();
    if n < 16 || (n < 20 && letters == n) {
        return false;
    }
    let vowel_ratio = vowel_ratio(alnum);
    let distinct = {
        let mut seen = [false; 256];
        alnum.iter().for_each(|b| seen[usize::from(*b)] = true);
        seen.iter().filter(|s| **s).count()
    };
    // Words bring vowels, and digits come in numbers or suffixes: random
    // text has few vowels and switches often between letters and digits.
    let letter_digit = letter_digit_change_ratio(alnum);
    let mixed_digits =
        (vowel_ratio < 0.35 && letter_digit >= 0.2) || (vowel_ratio < 0.45 && letter_digit >= 0.3);
    // Camel case switches case too, but at the start of a word followed by
    // a run of lower case; random text has short lower-case runs.
    let mixed_case = vowel_ratio < 0.45
        && class_change_ratio(alnum) >= 0.4
        && (mean_lower_run(alnum) < 2.5 || vowel_ratio < 0.25);
    (mixed_digits || mixed_case) && distinct as f64 >= (n as f64).min(40.0) * 0.45
}

pub(super) fn strip_cdk_hash(alnum: &[u8]) -> &[u8] {
    let n = alnum.len();
    if n > 8
        && alnum[n - 8..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
        && alnum[n - 9].is_ascii_lowercase()
    {
        &alnum[..n - 8]
    } else {
        alnum
    }
}

/// The share of vowels among letters.
pub(super) fn vowel_ratio(alnum: &[u8]) -> f64 {
    let letters = alnum.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let vowels = alnum
        .iter()
        .filter(|b| matches!(b.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u'))
        .count();
    if letters == 0 {
        0.0
    } else {
        vowels as f64 / letters as f64
    }
}

/// The mean length of runs of lower-case letters.
pub(super) fn mean_lower_run(alnum: &[u8]) -> f64 {
    let runs = alnum
        .split(|b| !b.is_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .map(<[u8]>::len)
        .collect::<Vec<_>>();
    if runs.is_empty() {
        return 0.0;
    }
    runs.iter().sum::<usize>() as f64 / runs.len() as f64
}

/// How often consecutive letters and digits change between lower case,
/// upper case and digit (other characters are skipped).
pub(super) fn class_change_ratio(s: &[u8]) -> f64 {
    let class = |b: u8| {
        if b.is_ascii_digit() {
            0
        } else if b.is_ascii_uppercase() {
            1
        } else {
            2
        }
    };
    let alnum: Vec<u8> = s
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    if alnum.len() < 2 {
        return 0.0;
    }
    let changes = alnum
        .windows(2)
        .filter(|w| class(w[0]) != class(w[1]))
        .count();
    changes as f64 / (alnum.len() - 1) as f64
}

/// How often consecutive characters change between letter and digit.
pub(super) fn letter_digit_change_ratio(alnum: &[u8]) -> f64 {
    if alnum.len() < 2 {
        return 0.0;
    }
    let changes = alnum
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    changes as f64 / (alnum.len() - 1) as f64
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    entropy_bytes(s.as_bytes())
}

pub(super) fn entropy_bytes(s: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s {
        counts[usize::from(*b)] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}
