//! A strict, allocation-free JSON scanner over one row's bytes.
//!
//! It accepts a subset of what `serde_json` accepts and nothing more: whatever it is unsure
//! of (a lone surrogate, a number out of range, nesting deeper than [`MAX_DEPTH`]) it answers
//! with [`Slow`], and the caller hands the row to the path that parses it into a value and
//! reports the exact error. The text must already be known to be UTF-8.

/// The row cannot be decided here; the value-based path decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slow;

pub(crate) type Scanned<T> = Result<T, Slow>;

/// Nesting deeper than this goes to the value-based path (serde_json stops at 128).
pub(crate) const MAX_DEPTH: usize = 100;

/// A JSON number's text and whether it is written as an integer (no fraction, no exponent).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Number<'a> {
    pub text: &'a str,
    pub integer: bool,
}

impl Number<'_> {
    /// The value as `i64`, when it is an integer literal that fits.
    pub fn as_i64(&self) -> Option<i64> {
        if self.integer {
            self.text.parse().ok()
        } else {
            None
        }
    }

    /// The value as a finite `f64` (correctly rounded, as serde_json and arrow-json read it).
    pub fn as_f64(&self) -> Scanned<f64> {
        match self.text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(Slow),
        }
    }
}

/// A cursor over one row.
pub(crate) struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    pub fn new(text: &'a str) -> Self {
        Scan {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    /// The row's text from `start` to `end`. The row is known to be UTF-8, so this only
    /// checks that both ends fall between characters (they are at ASCII bytes wherever the
    /// scanner cuts), not the text again.
    fn text(&self, start: usize, end: usize) -> Scanned<&'a str> {
        self.text.get(start..end).ok_or(Slow)
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    pub fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes.get(self.at).copied()
    }

    /// Consumes `byte` (after whitespace) or fails.
    pub fn eat(&mut self, byte: u8) -> Scanned<()> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Slow)
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Consumes one of `true`, `false`, `null`: `Some(bool)` or `None` for null.
    pub fn literal(&mut self) -> Scanned<Option<bool>> {
        let rest = &self.bytes[self.at..];
        let (value, len) = if rest.starts_with(b"true") {
            (Some(true), 4)
        } else if rest.starts_with(b"false") {
            (Some(false), 5)
        } else if rest.starts_with(b"null") {
            (None, 4)
        } else {
            return Err(Slow);
        };
        self.at += len;
        Ok(value)
    }

    /// Consumes a number in JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    pub fn number(&mut self) -> Scanned<Number<'a>> {
        let b = self.bytes;
        let start = self.at;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits_from(b, i),
            _ => return Err(Slow),
        }
        let mut integer = true;
        if b.get(i) == Some(&b'.') {
            integer = false;
            i = digits_from(b, i + 1);
            if !b[i - 1].is_ascii_digit() {
                return Err(Slow);
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            integer = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let exponent = i;
            i = digits_from(b, i);
            if i == exponent {
                return Err(Slow);
            }
        }
        self.at = i;
        // The row is UTF-8 and these bytes are ASCII.
        let text = self.text(start, i)?;
        Ok(Number { text, integer })
    }

    /// Consumes a string (the opening quote is next). Without escapes the text is borrowed
    /// from the row; with them it is decoded into `scratch`.
    pub fn string<'s>(&mut self, scratch: &'s mut String) -> Scanned<&'s str>
    where
        'a: 's,
    {
        let b = self.bytes;
        if b.get(self.at) != Some(&b'"') {
            return Err(Slow);
        }
        let start = self.at + 1;
        let mut i = start;
        loop {
            match b.get(i) {
                Some(b'"') => {
                    self.at = i + 1;
                    return self.text(start, i);
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return Err(Slow),
                Some(_) => i += 1,
                None => return Err(Slow),
            }
        }
        scratch.clear();
        scratch.push_str(self.text(start, i)?);
        loop {
            match b.get(i) {
                Some(b'"') => {
                    self.at = i + 1;
                    return Ok(scratch.as_str());
                }
                Some(b'\\') => {
                    let escaped = *b.get(i + 1).ok_or(Slow)?;
                    i += 2;
                    let c = match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let high = hex4(b, i)?;
                            i += 4;
                            match high {
                                0xD800..=0xDBFF => {
                                    if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
                                        return Err(Slow);
                                    }
                                    let low = hex4(b, i + 2)?;
                                    if !(0xDC00..=0xDFFF).contains(&low) {
                                        return Err(Slow);
                                    }
                                    i += 6;
                                    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                                    char::from_u32(code).ok_or(Slow)?
                                }
                                0xDC00..=0xDFFF => return Err(Slow),
                                code => char::from_u32(code).ok_or(Slow)?,
                            }
                        }
                        _ => return Err(Slow),
                    };
                    scratch.push(c);
                }
                Some(&c) if c < 0x20 => return Err(Slow),
                Some(_) => {
                    let run = i;
                    while let Some(&c) = b.get(i) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        i += 1;
                    }
                    scratch.push_str(self.text(run, i)?);
                }
                None => return Err(Slow),
            }
        }
    }

    /// Consumes any value, checking it as strictly as the rest; `depth` is the nesting so far.
    pub fn skip(&mut self, depth: usize, scratch: &mut String) -> Scanned<()> {
        if depth > MAX_DEPTH {
            return Err(Slow);
        }
        match self.peek().ok_or(Slow)? {
            b'{' => {
                self.at += 1;
                if self.close_if(b'}') {
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.string(scratch)?;
                    self.eat(b':')?;
                    self.skip(depth + 1, scratch)?;
                    if !self.next_or_close(b'}')? {
                        return Ok(());
                    }
                }
            }
            b'[' => {
                self.at += 1;
                if self.close_if(b']') {
                    return Ok(());
                }
                loop {
                    self.skip(depth + 1, scratch)?;
                    if !self.next_or_close(b']')? {
                        return Ok(());
                    }
                }
            }
            b'"' => self.string(scratch).map(|_| ()),
            b'-' | b'0'..=b'9' => self.number()?.as_f64().map(|_| ()),
            _ => self.literal().map(|_| ()),
        }
    }

    /// Consumes `,` before the next member or element: `Ok(true)`; or the closing `close`:
    /// `Ok(false)`.
    pub fn next_or_close(&mut self, close: u8) -> Scanned<bool> {
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.at += 1;
                Ok(false)
            }
            _ => Err(Slow),
        }
    }

    /// Consumes `close` if it comes next (an empty object or array).
    pub fn close_if(&mut self, close: u8) -> bool {
        if self.peek() == Some(close) {
            self.at += 1;
            true
        } else {
            false
        }
    }
}

fn hex4(b: &[u8], at: usize) -> Scanned<u32> {
    let digits = b.get(at..at + 4).ok_or(Slow)?;
    let mut v = 0u32;
    for &d in digits {
        let n = (d as char).to_digit(16).ok_or(Slow)?;
        v = v * 16 + n;
    }
    Ok(v)
}

/// Where the run of ASCII digits starting at `i` ends.
fn digits_from(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> Scanned<String> {
        let mut scratch = String::new();
        Scan::new(text).string(&mut scratch).map(str::to_string)
    }

    #[test]
    fn strings_decode_as_serde_json_does_or_go_slow() {
        for text in [
            r#""plain""#,
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""\u00e9\u4e2d\ud83d\ude00""#,
            r#""ünïcødé""#,
            r#""""#,
        ] {
            let expected: String = serde_json::from_str(text).unwrap();
            assert_eq!(string(text), Ok(expected), "{text}");
        }
        for text in [
            r#""\ud800""#,
            r#""\ud800\u0041""#,
            r#""\udc00""#,
            r#""\x""#,
            "\"tab\there\"",
            r#""open"#,
            r#""\u12""#,
        ] {
            assert!(serde_json::from_str::<String>(text).is_err(), "{text}");
            assert_eq!(string(text), Err(Slow), "{text}");
        }
    }

    #[test]
    fn numbers_follow_json_grammar() {
        for (text, integer) in [("0", true), ("-12", true), ("1.5", false), ("2e3", false)] {
            let n = Scan::new(text).number().unwrap();
            assert_eq!((n.text, n.integer), (text, integer));
        }
        for text in ["01", "-", "1.", ".5", "1e", "+1"] {
            let mut scan = Scan::new(text);
            let whole = scan.number().map(|n| n.text.len() == text.len());
            assert_ne!(whole, Ok(true), "{text}");
        }
        assert_eq!(Scan::new("1e400").number().unwrap().as_f64(), Err(Slow));
        assert_eq!(
            Scan::new("99999999999999999999").number().unwrap().as_i64(),
            None
        );
    }

    #[test]
    fn skipping_is_bounded_and_strict() {
        let mut scratch = String::new();
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(Scan::new(&deep).skip(0, &mut scratch), Err(Slow));
        let mut ok = Scan::new(r#"{"a": [1, 2.5, "x", true, null, {}], "b": {"c": []}}"#);
        assert_eq!(ok.skip(0, &mut scratch), Ok(()));
        assert!(ok.at_end());
        for bad in [r#"{"a" 1}"#, "[1,]", "[1 2]", "{,}", "nul", "tru"] {
            assert_eq!(Scan::new(bad).skip(0, &mut scratch), Err(Slow), "{bad}");
        }
    }
}
