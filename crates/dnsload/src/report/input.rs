//! Reading report inputs as streams: one line at a time, each line bounded, so a gigabyte of
//! pod logs is read in the memory of one line.

use std::io::{BufRead, ErrorKind};
use std::path::Path;

use crate::error::{Error, Result};

/// Longest line kept. A dnsload record is well under 4 KiB and a histogram-log line a few KiB;
/// a longer line is not a record (a pod that dumped a blob), so it is skipped and counted.
pub(super) const MAX_LINE: usize = 1 << 20;

/// One line of input.
pub(super) enum Line<'a> {
    /// The line, without its newline (and carriage return).
    Text(&'a [u8]),
    /// A line longer than [`MAX_LINE`], not kept.
    TooLong,
}

/// Calls `each(number, line)` for every line `reader` holds (numbered from 1), holding at most
/// one line of [`MAX_LINE`] bytes in memory; stops at the first error `each` returns.
pub(super) fn for_each_line<R, F>(mut reader: R, path: &Path, mut each: F) -> Result<()>
where
    R: BufRead,
    F: FnMut(u64, Line<'_>) -> Result<()>,
{
    let mut line: Vec<u8> = Vec::new();
    let mut too_long = false;
    let mut number = 0u64;
    let mut emit = |line: &mut Vec<u8>, too_long: &mut bool| {
        number += 1;
        let result = if *too_long {
            each(number, Line::TooLong)
        } else {
            let text = line.strip_suffix(b"\r").unwrap_or(line);
            each(number, Line::Text(text))
        };
        line.clear();
        *too_long = false;
        result
    };
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::file("cannot read", path, e)),
        };
        if available.is_empty() {
            if !line.is_empty() || too_long {
                emit(&mut line, &mut too_long)?;
            }
            return Ok(());
        }
        let (chunk, ends_line) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = chunk.len() + usize::from(ends_line);
        reader.consume(used);
        if ends_line {
            emit(&mut line, &mut too_long)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], capacity: usize) -> Vec<Option<String>> {
        let mut out = Vec::new();
        let reader = std::io::BufReader::with_capacity(capacity, input);
        for_each_line(reader, Path::new("t"), |_, line| {
            out.push(match line {
                Line::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                Line::TooLong => None,
            });
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn lines_split_across_buffer_refills_come_out_whole() {
        let input = b"one\r\ntwo\n\nthree";
        for capacity in [1, 2, 3, 64] {
            assert_eq!(
                lines(input, capacity),
                vec![
                    Some("one".into()),
                    Some("two".into()),
                    Some(String::new()),
                    Some("three".into())
                ],
                "capacity {capacity}"
            );
        }
    }

    #[test]
    fn an_overlong_line_is_skipped_without_being_held() {
        let mut input = b"a\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
        input.extend_from_slice(b"\nb\n");
        assert_eq!(
            lines(&input, 8192),
            vec![Some("a".into()), None, Some("b".into())]
        );
    }
}
