//! Source positions for JSON paths, and duplicate-key detection. Both run over text serde_json
//! has already accepted (so it is well formed and at most 128 levels deep), and only when a
//! document is parsed from text.

use super::error::Seg;

/// 1-based (line, column) of the element at `target`: the key of an object member, or the value
/// of an array element or of the root.
pub(crate) fn position(text: &str, target: &[Seg]) -> Option<(usize, usize)> {
    let mut found = None;
    let mut scan = Scanner { text, pos: 0 };
    let _ = scan.walk(&mut Vec::new(), &mut |path, at| {
        if path == target {
            found = Some(at);
        }
    });
    found.map(|at| line_column(text, at))
}

/// The first key repeated within one object, with its path and position. serde_json keeps the
/// last of duplicate keys silently; a policy must not mean something other than what it shows.
pub(crate) fn duplicate_key(text: &str) -> Option<(Vec<Seg>, (usize, usize))> {
    let mut scan = Scanner { text, pos: 0 };
    scan.walk(&mut Vec::new(), &mut |_, _| {}).err().map(|(path, at)| (path, line_column(text, at)))
}

fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

struct Scanner<'t> {
    text: &'t str,
    pos: usize,
}

type Visit<'v> = dyn FnMut(&[Seg], usize) + 'v;

impl Scanner<'_> {
    fn peek(&self) -> u8 {
        self.text.as_bytes().get(self.pos).copied().unwrap_or(0)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\r' | b'\n') {
            self.pos += 1;
        }
    }

    fn walk(&mut self, path: &mut Vec<Seg>, visit: &mut Visit<'_>) -> Result<(), (Vec<Seg>, usize)> {
        self.skip_ws();
        visit(path, self.pos);
        self.value(path, visit)
    }

    /// Skips the value at `pos`, visiting nested members.
    fn value(&mut self, path: &mut Vec<Seg>, visit: &mut Visit<'_>) -> Result<(), (Vec<Seg>, usize)> {
        match self.peek() {
            b'{' => {
                self.pos += 1;
                let mut keys: Vec<String> = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        b'"' => {}
                        b',' => {
                            self.pos += 1;
                            continue;
                        }
                        _ => break,
                    }
                    let key_at = self.pos;
                    let key = self.string();
                    path.push(Seg::Key(key.clone()));
                    if keys.contains(&key) {
                        return Err((path.clone(), key_at));
                    }
                    keys.push(key);
                    self.skip_ws();
                    self.pos += 1; // ':'
                    self.skip_ws();
                    visit(path, key_at);
                    self.value(path, visit)?;
                    path.pop();
                }
                self.pos += 1; // '}'
            }
            b'[' => {
                self.pos += 1;
                let mut index = 0;
                loop {
                    self.skip_ws();
                    match self.peek() {
                        b']' | 0 => break,
                        b',' => {
                            self.pos += 1;
                            continue;
                        }
                        _ => {}
                    }
                    path.push(Seg::Index(index));
                    visit(path, self.pos);
                    self.value(path, visit)?;
                    path.pop();
                    index += 1;
                }
                self.pos += 1; // ']'
            }
            b'"' => {
                self.string();
            }
            _ => {
                while !matches!(self.peek(), b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n' | 0) {
                    self.pos += 1;
                }
            }
        }
        Ok(())
    }

    /// Consumes a string literal and returns its decoded text.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        loop {
            match self.peek() {
                0 => break,
                b'\\' => {
                    escaped = true;
                    self.pos += 2;
                }
                b'"' => {
                    self.pos += 1;
                    break;
                }
                _ => self.pos += 1,
            }
        }
        let raw = self.text.get(start..self.pos).unwrap_or("\"\"");
        if escaped {
            serde_json::from_str(raw).unwrap_or_default()
        } else {
            raw.get(1..raw.len().saturating_sub(1)).unwrap_or("").to_owned()
        }
    }
}
