//! Pointing at the bad line and token of zone text the parser rejected.
//!
//! hickory's zone parser reports what is wrong but not where. Algorithm: the bad line is the
//! first whose prefix of the text fails with the same message as the whole text. The bad token
//! is found by cutting that line's tokens from the end: the first cut after which the message
//! changes removed it (for `mail 60 IN MX ten mail`, cutting `mail` keeps the number error,
//! cutting `ten` too turns it into a missing-token error, so `ten` is the culprit). Lines with
//! quotes or parentheses are not cut (their tokens are not whitespace-separated words).

/// Where a parse error is, as far as it can be found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Location {
    /// 1-based line number.
    pub(crate) line: Option<usize>,
    /// The text of that line.
    pub(crate) text: Option<String>,
    /// The token the parser choked on.
    pub(crate) token: Option<String>,
}

/// Texts longer than this are not searched (each step re-parses a prefix).
const MAX_LINES: usize = 5_000;

pub(crate) fn locate<T, E: ToString>(
    text: &str,
    reason: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Location {
    let fails_alike = |t: &str| matches!(parse(t), Err(e) if e.to_string() == reason);
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() > MAX_LINES {
        return Location::default();
    }
    let mut prefix = String::with_capacity(text.len());
    for (i, line) in lines.iter().enumerate() {
        let before = prefix.len();
        prefix.push_str(line);
        prefix.push('\n');
        if fails_alike(&prefix) {
            prefix.truncate(before);
            return Location {
                line: Some(i + 1),
                text: Some((*line).to_string()),
                token: bad_token(&prefix, line, fails_alike),
            };
        }
    }
    Location::default()
}

fn bad_token(before: &str, line: &str, fails_alike: impl Fn(&str) -> bool) -> Option<String> {
    if line.contains(['"', '(', ')']) {
        return None;
    }
    let words: Vec<&str> = line.split(';').next()?.split_whitespace().collect();
    let indent = if line.starts_with(char::is_whitespace) {
        " "
    } else {
        ""
    };
    for k in (0..words.len()).rev() {
        let cut = format!("{before}{indent}{}\n", words[..k].join(" "));
        if !fails_alike(&cut) {
            return Some(words[k].to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy parser: every line must be `NAME NUMBER`.
    fn toy(text: &str) -> Result<(), String> {
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.as_slice() {
                [_, n] => n.parse::<u32>().map(|_| ()).map_err(|e| e.to_string())?,
                [_] => return Err("missing number".into()),
                _ => return Err("bad line".into()),
            }
        }
        Ok(())
    }

    #[test]
    fn finds_line_and_token() {
        let text = "a 1\nb 2\nc x\nd 4\n";
        let reason = toy(text).unwrap_err();
        let loc = locate(text, &reason, toy);
        assert_eq!(loc.line, Some(3));
        assert_eq!(loc.text.as_deref(), Some("c x"));
        assert_eq!(loc.token.as_deref(), Some("x"));
    }

    #[test]
    fn gives_up_quietly() {
        let loc = locate("a 1\n", "no such error", toy);
        assert_eq!(loc, Location::default());
    }
}
