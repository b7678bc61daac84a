//! Where is each key? A second, independent walk over the YAML events (the same parser
//! serde-saphyr uses, re-exported as `serde_saphyr::granit_parser`) that records the dotted
//! path, line and character span of every node.
//!
//! serde-saphyr errors carry a location but no key path, so `yaml_error` asks this index
//! "which key is at (or around) this offset?". It runs only when deserialization has already
//! failed, so the happy path parses the file once. Semantic errors do not need it: the raw
//! structs keep `Spanned` locations for the values they validate.

use serde_saphyr::granit_parser::{Event, Parser, ScanError};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum NodeKind {
    Scalar,
    Sequence,
    Mapping,
}

/// One value node and how it is reached from the root.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// Dotted path: `neighbors[1].hold_time`; empty for the root.
    pub path: String,
    /// 1-based line of the key (mapping entry) or of the item (sequence entry).
    pub key_line: usize,
    /// Character offset of the key (mapping entry) or of the item (sequence entry).
    pub key_offset: usize,
    /// 1-based line of the value node itself.
    pub line: usize,
    /// Character offsets of the value node, end exclusive; `usize::MAX` while still open
    /// (only after a syntax error).
    pub start: usize,
    pub end: usize,
    pub kind: NodeKind,
    /// The scalar text, for "found `...`" messages.
    pub scalar: Option<String>,
}

/// The parser gave up: where, why, and the innermost open key at that point.
#[derive(Clone, Debug)]
pub(super) struct SyntaxError {
    pub line: usize,
    pub message: String,
    pub path: String,
}

#[derive(Debug, Default)]
pub(super) struct Index {
    /// In document order.
    pub entries: Vec<Entry>,
    pub syntax: Option<SyntaxError>,
}

enum Frame {
    Map {
        entry: usize,
        /// The key just read, with its offset and line; `None` while a key is expected.
        key: Option<(String, usize, usize)>,
    },
    Seq {
        entry: usize,
        next: usize,
    },
    /// Inside a complex (non-scalar) mapping key: ignored, depth counted.
    Skip(usize),
}

/// Index every node of the first document in `text`. Never fails: a syntax error ends the
/// walk and is recorded with the open path.
pub(super) fn index(text: &str) -> Index {
    let mut idx = Index::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root_done = false;

    for ev in Parser::new_from_str(text) {
        let (event, span) = match ev {
            Ok(ok) => ok,
            Err(e) => {
                idx.syntax = Some(syntax_error(&e, &stack, &idx));
                return idx;
            }
        };
        let (start, line) = (span.start.index(), span.start.line());
        let end = span.end.index();

        // Inside a complex key: only track nesting.
        if let Some(Frame::Skip(depth)) = stack.last_mut() {
            match event {
                Event::SequenceStart(..) | Event::MappingStart(..) => *depth += 1,
                Event::SequenceEnd | Event::MappingEnd => {
                    *depth -= 1;
                    if *depth == 0 {
                        stack.pop();
                        value_done(&mut stack);
                    }
                }
                _ => {}
            }
            continue;
        }

        let kind = match event {
            Event::Scalar(..) | Event::Alias(..) => NodeKind::Scalar,
            Event::SequenceStart(..) => NodeKind::Sequence,
            Event::MappingStart(..) => NodeKind::Mapping,
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(Frame::Map { entry, .. } | Frame::Seq { entry, .. }) = stack.pop() {
                    idx.entries[entry].end = end.max(idx.entries[entry].start + 1);
                }
                value_done(&mut stack);
                continue;
            }
            Event::DocumentEnd => {
                if root_done {
                    break;
                }
                continue;
            }
            _ => continue,
        };
        let scalar = match &event {
            Event::Scalar(s, ..) => Some(s.to_string()),
            _ => None,
        };

        // A key?
        if let Some(Frame::Map {
            key: key @ None, ..
        }) = stack.last_mut()
        {
            match kind {
                NodeKind::Scalar => {
                    *key = Some((scalar.unwrap_or_default(), start, line));
                }
                _ => {
                    *key = Some(("?".to_string(), start, line));
                    stack.push(Frame::Skip(1));
                }
            }
            continue;
        }

        // A value: find its path.
        let (path, key_offset, key_line) = match stack.last() {
            None => {
                if root_done {
                    break; // a second document: ignored here
                }
                root_done = true;
                (String::new(), start, line)
            }
            Some(Frame::Map {
                entry,
                key: Some((k, off, l)),
            }) => (join_key(&idx.entries[*entry].path, k), *off, *l),
            Some(Frame::Seq { entry, next }) => {
                (format!("{}[{next}]", idx.entries[*entry].path), start, line)
            }
            Some(Frame::Map { key: None, .. } | Frame::Skip(_)) => continue,
        };
        let at = idx.entries.len();
        idx.entries.push(Entry {
            path,
            key_line,
            key_offset,
            line,
            start,
            end: if kind == NodeKind::Scalar {
                end.max(start + 1)
            } else {
                usize::MAX
            },
            kind,
            scalar,
        });
        match kind {
            NodeKind::Scalar => value_done(&mut stack),
            NodeKind::Sequence => stack.push(Frame::Seq { entry: at, next: 0 }),
            NodeKind::Mapping => stack.push(Frame::Map {
                entry: at,
                key: None,
            }),
        }
    }
    idx
}

/// `parent.key`, or `key` at the root.
pub(super) fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A value was completed in the innermost container.
fn value_done(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key, .. }) => *key = None,
        Some(Frame::Seq { next, .. }) => *next += 1,
        _ => {}
    }
}

fn syntax_error(e: &ScanError, stack: &[Frame], idx: &Index) -> SyntaxError {
    // The innermost open node: a key waiting for its value, else the open container.
    let path = stack
        .iter()
        .rev()
        .find_map(|f| match f {
            Frame::Map {
                entry,
                key: Some((k, ..)),
            } => Some(join_key(&idx.entries[*entry].path, k)),
            Frame::Map { entry, key: None } | Frame::Seq { entry, .. } => {
                Some(idx.entries[*entry].path.clone())
            }
            Frame::Skip(_) => None,
        })
        .unwrap_or_default();
    SyntaxError {
        line: e.marker().line().max(1),
        message: e.info(),
        path,
    }
}

impl Index {
    /// The entry whose key (or item) starts exactly at `offset`.
    pub fn key_at(&self, offset: usize) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key_offset == offset && !e.path.is_empty())
    }

    /// The deepest entry whose value node starts exactly at `offset`.
    pub fn value_at(&self, offset: usize) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.start == offset)
    }

    /// The deepest container (mapping or sequence) enclosing `offset`.
    pub fn container_around(&self, offset: usize) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.kind != NodeKind::Scalar && e.start <= offset && offset < e.end)
    }

    /// The entry reached by `path`, if present.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.path == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
asn: 65000
router_id: 10.0.0.1
neighbors:
  - address: 192.0.2.1
    asn: 65000
    families: [ipv4-unicast, ipv6-unicast]
  - address: 192.0.2.2
    asn: 65000
";

    #[test]
    fn every_key_is_indexed_with_its_dotted_path_and_line() {
        let idx = index(DOC);
        assert!(idx.syntax.is_none());
        let line = |p: &str| idx.get(p).map(|e| e.key_line);
        assert_eq!(line("asn"), Some(1));
        assert_eq!(line("neighbors"), Some(3));
        assert_eq!(line("neighbors[0]"), Some(4));
        assert_eq!(line("neighbors[0].families[1]"), Some(6));
        assert_eq!(line("neighbors[1].asn"), Some(8));
        assert_eq!(
            idx.get("neighbors[1].address").unwrap().scalar.as_deref(),
            Some("192.0.2.2")
        );
    }

    #[test]
    fn offsets_agree_with_serde_saphyr_locations() {
        #[derive(serde::Deserialize)]
        struct N {
            asn: serde_saphyr::Spanned<u64>,
        }
        #[derive(serde::Deserialize)]
        struct D {
            neighbors: Vec<N>,
        }
        let text = "neighbors:\n  - asn: 1\n  - {asn: 2}\n";
        let d: D = serde_saphyr::from_str(text).unwrap();
        let offset = d.neighbors[1].asn.referenced.span().offset() as usize;
        let e = index(text).value_at(offset).cloned().unwrap();
        assert_eq!(e.path, "neighbors[1].asn");
        assert_eq!(e.line, 3);
    }

    #[test]
    fn a_syntax_error_records_the_open_key_and_the_line() {
        let idx = index("asn: 1\nneighbors:\n  - address: 192.0.2.1\n     asn: 65000\n");
        let s = idx.syntax.expect("syntax error");
        assert_eq!(s.line, 4);
        assert_eq!(s.path, "neighbors[0]");
    }
}
