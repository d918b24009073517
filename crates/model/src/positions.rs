//! Where each field of a YAML document sits, so that errors found after parsing (by serde or by
//! the compiler) can name a line and column. Paths are written `apis[0].routes[2].url`.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A map from field path to its 1-based (line, column).
#[derive(Debug, Default, Clone)]
pub(crate) struct Positions {
    at: HashMap<String, (usize, usize)>,
}

/// A YAML syntax error with its place.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

// === impl Positions ===

impl Positions {
    /// Indexes `text`. Fails with the parser's message on a syntax error.
    pub(crate) fn index(text: &str) -> Result<Self, SyntaxError> {
        let mut walker = Walker::default();
        let mut parser = Parser::new_from_str(text);
        parser.load(&mut walker, false).map_err(|e| SyntaxError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        Ok(walker.positions)
    }

    /// The place of `path`, or of its nearest ancestor that has one.
    pub(crate) fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.at.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

/// Joins a field name onto a path.
pub(crate) fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Joins a sequence index onto a path.
pub(crate) fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[derive(Debug)]
enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Debug, Default)]
struct Walker {
    positions: Positions,
    stack: Vec<Frame>,
    /// A sequence item that is a mapping gets the place of its first key.
    pending: Option<String>,
}

// === impl Walker ===

impl Walker {
    /// Path of the node that starts now, recording places as it goes. `None` when the node
    /// is a mapping key (its path is then remembered in the frame).
    fn node_path(&mut self, ev: &Event, mark: Marker) -> Option<String> {
        let here = (mark.line(), mark.col() + 1);
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key }) => match key.take() {
                Some(k) => Some(join_key(path, &k)),
                None => {
                    let name = match ev {
                        Event::Scalar(s, ..) => s.clone(),
                        _ => "?".to_owned(),
                    };
                    let full = join_key(path, &name);
                    self.positions.at.entry(full).or_insert(here);
                    if let Some(p) = self.pending.take() {
                        self.positions.at.entry(p).or_insert(here);
                    }
                    *key = Some(name);
                    None
                }
            },
            Some(Frame::Seq { path, next }) => {
                let p = join_index(path, *next);
                *next += 1;
                if matches!(ev, Event::MappingStart(..)) {
                    self.pending = Some(p.clone());
                } else {
                    self.positions.at.entry(p.clone()).or_insert(here);
                }
                Some(p)
            }
        }
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(..) | Event::Alias(..) | Event::MappingStart(..) | Event::SequenceStart(..) => {
                let path = self.node_path(&ev, mark);
                if let Some(path) = path {
                    match ev {
                        Event::MappingStart(..) => self.stack.push(Frame::Map { path, key: None }),
                        Event::SequenceStart(..) => self.stack.push(Frame::Seq { path, next: 0 }),
                        _ => {}
                    }
                } else if matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..)) {
                    // A complex mapping key: walk it under a throw-away path.
                    let path = "?".to_owned();
                    match ev {
                        Event::MappingStart(..) => self.stack.push(Frame::Map { path, key: None }),
                        _ => self.stack.push(Frame::Seq { path, next: 0 }),
                    }
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Positions;

    #[test]
    fn finds_fields_items_and_ancestors() {
        let text = "apis:\n  - name: a\n    routes:\n      - route: GET /\n        integration:\n          url: x\n";
        let p = Positions::index(text).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(p.find("apis"), Some((1, 1)));
        assert_eq!(p.find("apis[0]"), Some((2, 5)));
        assert_eq!(p.find("apis[0].name"), Some((2, 5)));
        assert_eq!(p.find("apis[0].routes[0].integration.url"), Some((6, 11)));
        assert_eq!(p.find("apis[0].routes[0].integration.nope"), Some((5, 9)));
    }

    #[test]
    fn reports_syntax_errors_with_place() {
        let err = Positions::index("a: [1, 2\nb: 3\n").err().unwrap_or_else(|| panic!("expected error"));
        assert!(err.line >= 1 && !err.message.is_empty());
    }
}
