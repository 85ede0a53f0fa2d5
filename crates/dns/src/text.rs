//! Presentation format (RFC 1035 §5.1): the tokens of master files and record contents.
//!
//! hickory-proto parses each record's data; this module only cuts the text into entries
//! and tokens. It exists because hickory's own master-file lexer stops at the first error
//! without a line number, merges RRsets silently (hiding duplicate records and TTL
//! conflicts) and mis-reads quoted strings inside parentheses (common in DKIM records).
//! Tokens borrow from the input, so a million-record file is cut without an allocation per
//! token.

use std::borrow::Cow;

/// One token: a word, or the inside of a quoted string. Escapes (`\X`, `\DDD`) are kept as
/// written; [`char_string`] and hickory's name parser decode them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub raw: &'a str,
    pub quoted: bool,
}

/// Why an entry could not be cut into tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: usize,
    pub message: String,
}

/// The start of one entry of a master file: its first line and whether it names an owner
/// (an entry that starts with a blank reuses the previous owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryHead {
    pub line: usize,
    pub has_owner: bool,
}

/// Cuts a master file into entries: one logical line each, with parentheses joining lines
/// and comments removed.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Self::with_line(src, 1)
    }

    /// A lexer whose first line is numbered `line` (for a part of a larger file).
    pub fn with_line(src: &'a str, line: usize) -> Self {
        Self { src, pos: 0, line }
    }

    /// Whether the whole input was read.
    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    /// The next entry with its tokens in `out` (cleared first), `None` at the end.
    /// After an error the lexer resumes at the next line.
    pub fn next_entry(&mut self, out: &mut Vec<Token<'a>>) -> Option<Result<EntryHead, LexError>> {
        let b = self.src.as_bytes();
        let len = b.len();
        loop {
            out.clear();
            if self.pos >= len {
                return None;
            }
            let head_line = self.line;
            let has_owner = !matches!(b[self.pos], b' ' | b'\t');
            let mut depth = 0usize;
            let mut open_line = 0usize;
            loop {
                if self.pos >= len {
                    if depth > 0 {
                        return Some(Err(LexError {
                            line: open_line,
                            message: "the parenthesis opened here is never closed; add `)`".into(),
                        }));
                    }
                    break;
                }
                match b[self.pos] {
                    b'\n' => {
                        self.line += 1;
                        self.pos += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b';' => {
                        while self.pos < len && b[self.pos] != b'\n' {
                            self.pos += 1;
                        }
                    }
                    b'(' => {
                        if depth > 0 {
                            return Some(Err(self.fail("parentheses cannot be nested")));
                        }
                        depth = 1;
                        open_line = self.line;
                        self.pos += 1;
                    }
                    b')' => {
                        if depth == 0 {
                            return Some(Err(self.fail("`)` without a matching `(`")));
                        }
                        depth = 0;
                        self.pos += 1;
                    }
                    b'"' => {
                        let quote_line = self.line;
                        self.pos += 1;
                        let start = self.pos;
                        loop {
                            if self.pos >= len {
                                return Some(Err(LexError {
                                    line: quote_line,
                                    message: "the quoted string started here is never closed; \
                                              add the closing `\"`"
                                        .into(),
                                }));
                            }
                            match b[self.pos] {
                                b'\\' => {
                                    let next = self.src[self.pos + 1..].chars().next();
                                    if next == Some('\n') {
                                        self.line += 1;
                                    }
                                    self.pos += 1 + next.map_or(0, char::len_utf8);
                                }
                                b'"' => break,
                                b'\n' => {
                                    self.line += 1;
                                    self.pos += 1;
                                }
                                _ => self.pos += 1,
                            }
                        }
                        out.push(Token {
                            raw: &self.src[start..self.pos],
                            quoted: true,
                        });
                        self.pos += 1;
                    }
                    _ => {
                        let start = self.pos;
                        while self.pos < len {
                            match b[self.pos] {
                                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                                b'\\' => {
                                    // An escaped character is part of the word; step over a
                                    // whole UTF-8 character so slices stay on boundaries.
                                    let next = self.src[self.pos + 1..].chars().next();
                                    self.pos += 1 + next.map_or(0, char::len_utf8);
                                }
                                _ => self.pos += 1,
                            }
                        }
                        out.push(Token {
                            raw: &self.src[start..self.pos],
                            quoted: false,
                        });
                    }
                }
            }
            if out.is_empty() {
                continue;
            }
            return Some(Ok(EntryHead {
                line: head_line,
                has_owner,
            }));
        }
    }

    /// An error on the current line; skips to the next line.
    fn fail(&mut self, message: &str) -> LexError {
        let line = self.line;
        let b = self.src.as_bytes();
        while self.pos < b.len() && b[self.pos] != b'\n' {
            self.pos += 1;
        }
        if self.pos < b.len() {
            self.pos += 1;
            self.line += 1;
        }
        LexError {
            line,
            message: message.into(),
        }
    }
}

/// Cuts a single record's content (`10 mail.example.com.`) into tokens. Parentheses are
/// allowed and ignored; a newline is whitespace here.
pub(crate) fn content_tokens(content: &str) -> Result<Vec<Token<'_>>, String> {
    let mut lexer = Lexer::new(content);
    let mut all = Vec::new();
    let mut out = Vec::new();
    while let Some(entry) = lexer.next_entry(&mut out) {
        entry.map_err(|e| e.message)?;
        all.append(&mut out);
    }
    Ok(all)
}

/// Decodes a character-string (RFC 1035 §5.1): `\X` is X, `\DDD` is the octet DDD.
pub(crate) fn char_string(raw: &str) -> Result<Cow<'_, [u8]>, String> {
    if !raw.contains('\\') {
        return Ok(Cow::Borrowed(raw.as_bytes()));
    }
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let rest = &b[i + 1..];
        match rest {
            [] => return Err("a lone `\\` ends the text; write `\\\\` for a backslash".into()),
            [d1, d2, d3, ..]
                if d1.is_ascii_digit() && d2.is_ascii_digit() && d3.is_ascii_digit() =>
            {
                let v =
                    u32::from(d1 - b'0') * 100 + u32::from(d2 - b'0') * 10 + u32::from(d3 - b'0');
                let v = u8::try_from(v)
                    .map_err(|_| format!("`\\{v}` is not an octet; use \\000 to \\255"))?;
                out.push(v);
                i += 4;
            }
            [d, ..] if d.is_ascii_digit() => {
                return Err("a `\\` followed by a digit needs exactly three digits (\\DDD)".into());
            }
            _ => {
                // `\X`: the next character (possibly multi-byte) taken literally.
                let ch_len = raw[i + 1..].chars().next().map_or(1, char::len_utf8);
                out.extend_from_slice(&b[i + 1..i + 1 + ch_len]);
                i += 1 + ch_len;
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// Writes octets as a quoted character-string: `"`, `\` escaped, non-printable as `\DDD`.
pub(crate) fn write_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.bytes().any(|c| c < 0x20 || c == 0x7f) => {
            for ch in s.chars() {
                if ch == '"' || ch == '\\' {
                    out.push('\\');
                }
                out.push(ch);
            }
        }
        _ => {
            for &c in bytes {
                match c {
                    b'"' | b'\\' => {
                        out.push('\\');
                        out.push(char::from(c));
                    }
                    0x20..=0x7e => out.push(char::from(c)),
                    _ => {
                        use std::fmt::Write;
                        let _ = write!(out, "\\{c:03}");
                    }
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    type Lexed = Result<(EntryHead, Vec<(String, bool)>), LexError>;

    fn entries(src: &str) -> Vec<Lexed> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        let mut all = Vec::new();
        while let Some(e) = lx.next_entry(&mut out) {
            all.push(e.map(|h| {
                (
                    h,
                    out.iter()
                        .map(|t| (t.raw.to_owned(), t.quoted))
                        .collect::<Vec<_>>(),
                )
            }));
        }
        all
    }

    #[test]
    fn parentheses_join_lines_and_quotes_keep_semicolons() {
        let src = "a IN TXT ( \"v=DKIM1; k=rsa; \"\n   \"p=MIIB\" ) ; trailing\n\n  IN A 1.2.3.4\n";
        let got = entries(src);
        assert_eq!(got.len(), 2);
        let (h, toks) = got[0].clone().unwrap();
        assert_eq!(
            h,
            EntryHead {
                line: 1,
                has_owner: true
            }
        );
        assert_eq!(
            toks,
            vec![
                ("a".into(), false),
                ("IN".into(), false),
                ("TXT".into(), false),
                ("v=DKIM1; k=rsa; ".into(), true),
                ("p=MIIB".into(), true),
            ]
        );
        let (h, toks) = got[1].clone().unwrap();
        assert_eq!(
            h,
            EntryHead {
                line: 4,
                has_owner: false
            }
        );
        assert_eq!(toks.len(), 3);
    }

    #[test]
    fn errors_name_the_line_and_lexing_resumes() {
        let got = entries("a A 1.2.3.4\nb A ) 1.2.3.4\nc A 1.2.3.5\nd TXT \"open\n");
        assert_eq!(got.len(), 4);
        assert!(got[0].is_ok());
        assert_eq!(got[1].clone().unwrap_err().line, 2);
        assert!(got[2].is_ok());
        assert_eq!(got[3].clone().unwrap_err().line, 4);
    }

    #[test]
    fn char_strings_decode_escapes() {
        assert_eq!(
            &*char_string(r#"a\"b\\c\065\255"#).unwrap(),
            b"a\"b\\cA\xff"
        );
        assert!(char_string(r"\256").is_err());
        assert!(char_string(r"\1x").is_err());
        let mut s = String::new();
        write_quoted(&mut s, b"a\"b\\\x01");
        assert_eq!(s, r#""a\"b\\\001""#);
    }
}
