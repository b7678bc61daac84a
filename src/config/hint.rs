//! "Did you mean ...?" for misspelt keys and names.

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo
/// (at most one edit per three characters, and at least one allowed); failing that, a
/// candidate that `word` starts with or abbreviates (`warning` -> `warn`).
pub(super) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let close = closest(&word, candidates);
    close.or_else(|| {
        candidates.iter().copied().find(|c| {
            c.len().min(word.len()) >= 3 && (word.starts_with(c) || c.starts_with(word.as_str()))
        })
    })
}

fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `" (did you mean `x`?)"` or nothing.
pub(super) fn suggestion(word: &str, candidates: &[&str]) -> String {
    did_you_mean(word, candidates).map_or_else(String::new, |c| format!(" (did you mean `{c}`?)"))
}

/// `a, b, c`
pub(super) fn list(items: &[&str]) -> String {
    items.join(", ")
}

/// Levenshtein distance, with a transposition counting as one edit (so `hodl` ~ `hold`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j]
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transposed_key_suggests_the_real_one() {
        assert_eq!(
            did_you_mean("hodl_time", &["hold_time", "port"]),
            Some("hold_time")
        );
        assert_eq!(
            did_you_mean("ipv4-unicst", &["ipv4-unicast", "ipv6-unicast"]),
            Some("ipv4-unicast")
        );
    }

    #[test]
    fn a_longer_or_shorter_spelling_suggests_the_real_one() {
        assert_eq!(did_you_mean("warning", &["error", "warn"]), Some("warn"));
        assert_eq!(
            did_you_mean("desc", &["description", "port"]),
            Some("description")
        );
    }

    #[test]
    fn an_unrelated_word_suggests_nothing() {
        assert_eq!(did_you_mean("colour", &["hold_time", "port"]), None);
        assert_eq!(suggestion("zzz", &["asn"]), "");
    }
}
