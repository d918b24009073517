//! "Did you mean" suggestions for misspelt keys and names.

/// The candidate closest to `word`, if one is close enough to be a likely typo.
pub(crate) fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Adds a suggestion to serde's "unknown field/variant `x`, expected ..." messages.
pub(crate) fn decorate(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))
    else {
        return message.to_owned();
    };
    let Some((word, expected)) = rest.split_once('`') else {
        return message.to_owned();
    };
    let names = expected.split('`').skip(1).step_by(2);
    match closest(word, names) {
        Some(s) => format!("{message} (did you mean `{s}`?)"),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::decorate;

    #[test]
    fn suggests_the_near_name_only() {
        assert_eq!(
            decorate("unknown field `rotues`, expected `name` or `routes`"),
            "unknown field `rotues`, expected `name` or `routes` (did you mean `routes`?)"
        );
        assert_eq!(
            decorate("unknown field `zzz`, expected `name` or `routes`"),
            "unknown field `zzz`, expected `name` or `routes`"
        );
    }
}
