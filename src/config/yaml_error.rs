//! YAML text -> `RawConfig`, turning every serde-saphyr failure (syntax, wrong type, unknown
//! or missing key, duplicate key) into a `ConfigError` that names the line and dotted key.
//!
//! serde-saphyr reports a location but not a path, so on failure the text is walked once more
//! with `locate::index` and the location is matched to the key there.

use super::hint;
use super::locate::{self, Entry, NodeKind};
use super::raw::RawConfig;
use super::{ConfigError, ErrorKind};
use serde_saphyr::Error as YamlError;
use std::path::Path;

/// Key shown when the problem is the document itself rather than one key.
pub(super) const DOCUMENT: &str = "(document)";

pub(super) fn read(text: &str, file: &Path) -> Result<RawConfig, ConfigError> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options::<RawConfig>(text, options)
        .map_err(|e| translate(&e, text, file))
}

fn translate(err: &YamlError, text: &str, file: &Path) -> ConfigError {
    let idx = locate::index(text);
    let make = |line: usize, key: &str, kind: ErrorKind, message: String| ConfigError {
        file: file.to_path_buf(),
        line: Some(line.max(1)),
        key: if key.is_empty() {
            DOCUMENT.to_string()
        } else {
            key.to_string()
        },
        kind,
        message,
    };

    if let Some(s) = &idx.syntax {
        let hint = if s.message.contains("mapping values are not allowed") {
            "; check the indentation, and quote values that start with `:` or contain `: ` \
             (address: \"::\")"
        } else {
            ""
        };
        return make(
            s.line,
            &s.path,
            ErrorKind::Syntax,
            format!("YAML syntax error: {}{hint}", s.message),
        );
    }

    let err = unwrap_error(err);
    let loc = err.location();
    let offset = loc.map(|l| l.span().offset() as usize);
    let loc_line = loc.map_or(1, |l| l.line() as usize);

    match err {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let (line, key) = offset
                .and_then(|o| idx.key_at(o))
                .map_or((loc_line, field.clone()), |e| (e.key_line, e.path.clone()));
            let hint = hint::suggestion(field, expected);
            make(
                line,
                &key,
                ErrorKind::UnknownKey,
                format!(
                    "unknown key `{field}`{hint}; valid keys here: {}",
                    hint::list(expected)
                ),
            )
        }
        YamlError::SerdeMissingField { field, .. } => {
            let container = offset.and_then(|o| idx.container_around(o));
            let (line, parent) =
                container.map_or((1, String::new()), |e| (e.key_line, e.path.clone()));
            let key = locate::join_key(&parent, field);
            make(
                line,
                &key,
                ErrorKind::Missing,
                format!(
                    "required key `{field}` is missing: add `{field}: {}`",
                    example(field)
                ),
            )
        }
        YamlError::DuplicateMappingKey { key, .. } => {
            let (line, path) = offset
                .and_then(|o| idx.key_at(o))
                .map_or((loc_line, key.clone().unwrap_or_default()), |e| {
                    (e.key_line, e.path.clone())
                });
            let first = idx.get(&path).map(|e| e.key_line).filter(|&l| l != line);
            let at = first.map_or(String::new(), |l| format!(" (first at line {l})"));
            make(
                line,
                &path,
                ErrorKind::Duplicate,
                format!("key given twice{at}: keep one"),
            )
        }
        YamlError::MultipleDocuments { .. } => make(
            loc_line,
            DOCUMENT,
            ErrorKind::Syntax,
            "the file holds more than one YAML document (`---`): keep a single one".to_string(),
        ),
        YamlError::Eof { .. } if idx.entries.iter().all(|e| e.kind == NodeKind::Scalar) => make(
            1,
            DOCUMENT,
            ErrorKind::Missing,
            "the file has no settings: at least `asn` and `router_id` are required".to_string(),
        ),
        _ => {
            let entry = offset
                .and_then(|o| idx.value_at(o))
                .or_else(|| offset.and_then(|o| idx.container_around(o)));
            match entry {
                Some(e) => make(e.line, &e.path, ErrorKind::WrongType, wrong_type(e, err)),
                None => make(loc_line, DOCUMENT, ErrorKind::WrongType, plain(err)),
            }
        }
    }
}

/// Strip snippet and alias wrappers to reach the original error.
fn unwrap_error(err: &YamlError) -> &YamlError {
    match err {
        YamlError::WithSnippet { error, .. } | YamlError::AliasError { error, .. } => {
            unwrap_error(error)
        }
        other => other,
    }
}

/// serde-saphyr's own wording, without its "at line X" suffix.
fn plain(err: &YamlError) -> String {
    use serde_saphyr::MessageFormatter;
    serde_saphyr::DefaultMessageFormatter
        .format_message(err)
        .into_owned()
}

/// "expected X, found Y" for a value of the wrong shape or type.
fn wrong_type(entry: &Entry, err: &YamlError) -> String {
    let found = match (entry.kind, entry.scalar.as_deref()) {
        (NodeKind::Sequence, _) => "a list".to_string(),
        (NodeKind::Mapping, _) => "a mapping".to_string(),
        (NodeKind::Scalar, None | Some("" | "~" | "null" | "Null" | "NULL")) => {
            "nothing (null)".to_string()
        }
        (NodeKind::Scalar, Some(s)) => format!("`{s}`"),
    };
    match expectation(&entry.path) {
        Some(expected) => format!("expected {expected}, found {found}"),
        None => format!("{}; found {found}", plain(err)),
    }
}

/// What the value at `path` should look like, in words.
fn expectation(path: &str) -> Option<&'static str> {
    let last = path.rsplit('.').next().unwrap_or(path);
    let (name, is_item) = match last.find('[') {
        Some(i) if last.ends_with(']') && !last[i..].contains("].") => (&last[..i], true),
        _ => (last, false),
    };
    Some(match (name, is_item) {
        ("", false) => "a mapping of settings (asn, router_id, neighbors, ...)",
        ("neighbors", true) => "a neighbor: a mapping with at least `address` and `asn`",
        ("listen", true) => "a listener: a mapping with `address` and optional `port`",
        ("families", true) => "a family name such as ipv4-unicast",
        ("neighbors", false) => "a list of neighbors (`- address: ...`), possibly empty",
        ("listen", false) => "a list of listeners (`- address: ...`)",
        ("families", false) => "a list of family names, e.g. [ipv4-unicast, ipv6-unicast]",
        ("asn", _) => "an AS number from 1 to 4294967295",
        ("hold_time", _) => "a number of seconds: 0, or 3 to 65535",
        ("connect_retry", _) => "a number of seconds from 1 to 65535",
        ("port", _) => "a port number from 1 to 65535",
        ("max_prefixes", _) => "a number of prefixes, at least 1",
        ("workers", _) => "`auto` or a number of threads from 1 to 256",
        ("rr_client" | "passive" | "graceful_restart", _) => "true or false",
        ("graceful_restart_time" | "graceful_restart_stale_time", _) => {
            "a number of seconds from 1 to 4095"
        }
        ("router_id" | "cluster_id", _) => "an IPv4 address",
        ("address" | "local_address", _) => "an IP address",
        ("api" | "metrics", _) => "an address and port such as 127.0.0.1:8179",
        ("log", _) => "one of error, warn, info, debug, trace",
        ("description", _) => "a short text",
        _ => return None,
    })
}

/// A sample value for "add `key: value`".
fn example(field: &str) -> &'static str {
    match field {
        "asn" => "65000",
        "router_id" => "192.0.2.1",
        "address" => "192.0.2.10",
        _ => "...",
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_refused, error};
    use super::super::ErrorKind::*;

    const HEAD: &str = "asn: 65000\nrouter_id: 10.0.0.1\n";

    fn with_head(rest: &str) -> String {
        format!("{HEAD}{rest}")
    }

    #[test]
    fn an_unknown_top_level_key_lists_the_valid_keys_and_suggests_one() {
        assert_refused(
            &with_head("neigbors: []\n"),
            UnknownKey,
            3,
            "neigbors",
            &[
                "unknown key `neigbors`",
                "did you mean `neighbors`?",
                "asn, router_id, cluster_id",
            ],
        );
    }

    #[test]
    fn an_unknown_key_inside_a_neighbor_is_named_by_its_dotted_path() {
        assert_refused(
            &with_head(
                "neighbors:\n  - address: 192.0.2.1\n    asn: 65000\n  - address: 192.0.2.2\n    asn: 65000\n    hodl_time: 30\n",
            ),
            UnknownKey,
            8,
            "neighbors[1].hodl_time",
            &[
                "unknown key `hodl_time`",
                "did you mean `hold_time`?",
                "connect_retry",
            ],
        );
    }

    #[test]
    fn an_unknown_key_inside_a_listener_is_named_by_its_dotted_path() {
        assert_refused(
            &with_head("listen:\n  - address: 0.0.0.0\n    prot: 179\n"),
            UnknownKey,
            5,
            "listen[0].prot",
            &["did you mean `port`?"],
        );
    }

    #[test]
    fn a_word_where_a_number_belongs_is_a_type_error_naming_the_key() {
        assert_refused(
            &with_head(
                "neighbors:\n  - address: 192.0.2.1\n    asn: 65000\n    hold_time: ninety\n",
            ),
            WrongType,
            6,
            "neighbors[0].hold_time",
            &[
                "expected a number of seconds: 0, or 3 to 65535",
                "found `ninety`",
            ],
        );
    }

    #[test]
    fn a_word_where_a_boolean_belongs_is_a_type_error_naming_the_key() {
        assert_refused(
            &with_head(
                "neighbors:\n  - address: 192.0.2.1\n    asn: 65000\n    rr_client: maybe\n",
            ),
            WrongType,
            6,
            "neighbors[0].rr_client",
            &["expected true or false", "found `maybe`"],
        );
    }

    #[test]
    fn a_scalar_where_a_list_belongs_is_a_type_error() {
        assert_refused(
            &with_head("neighbors: 192.0.2.1\n"),
            WrongType,
            3,
            "neighbors",
            &["expected a list of neighbors", "found `192.0.2.1`"],
        );
    }

    #[test]
    fn a_list_where_an_address_belongs_is_a_type_error() {
        assert_refused(
            "asn: 65000\nrouter_id: [10.0.0.1]\n",
            WrongType,
            2,
            "router_id",
            &["expected an IPv4 address", "found a list"],
        );
    }

    #[test]
    fn a_negative_asn_is_a_type_error() {
        assert_refused(
            "asn: -1\nrouter_id: 10.0.0.1\n",
            WrongType,
            1,
            "asn",
            &["expected an AS number from 1 to 4294967295", "found `-1`"],
        );
    }

    #[test]
    fn a_family_given_as_a_mapping_is_a_type_error_on_the_item() {
        assert_refused(
            &with_head(
                "neighbors:\n  - address: 192.0.2.1\n    asn: 65000\n    families:\n      - {ipv4: unicast}\n",
            ),
            WrongType,
            7,
            "neighbors[0].families[0]",
            &["expected a family name", "found a mapping"],
        );
    }

    #[test]
    fn a_missing_required_neighbor_key_names_the_neighbor_line() {
        assert_refused(
            &with_head(
                "neighbors:\n  - address: 192.0.2.1\n    asn: 65000\n  - asn: 65000\n    passive: true\n",
            ),
            Missing,
            6,
            "neighbors[1].address",
            &["required key `address` is missing", "add `address:"],
        );
    }

    #[test]
    fn a_missing_asn_is_reported_at_the_top() {
        assert_refused(
            "router_id: 10.0.0.1\nlog: info\n",
            Missing,
            1,
            "asn",
            &["required key `asn` is missing"],
        );
    }

    #[test]
    fn a_yaml_syntax_error_names_the_line_and_the_open_key() {
        assert_refused(
            &with_head("neighbors:\n  - address: 192.0.2.1\n     asn: 65000\n"),
            Syntax,
            5,
            "neighbors[0]",
            &["YAML syntax error"],
        );
    }

    #[test]
    fn an_unclosed_flow_list_is_a_syntax_error_on_its_key() {
        let e = error(&with_head(
            "neighbors:\n  - address: 192.0.2.1\n    asn: 65000\n    families: [ipv4-unicast\n",
        ));
        assert_eq!(e.key, "neighbors[0].families", "{e}");
        assert_eq!(e.kind, Syntax, "{e}");
        assert!(e.message.starts_with("YAML syntax error"), "{e}");
        assert!(e.line.is_some_and(|l| l >= 6), "{e}");
    }

    #[test]
    fn an_unquoted_ipv6_any_address_gets_a_quoting_hint() {
        assert_refused(
            &with_head("listen:\n  - address: ::\n"),
            Syntax,
            4,
            "listen[0]",
            &["YAML syntax error", "address: \"::\""],
        );
    }

    #[test]
    fn a_second_yaml_document_is_refused() {
        assert_refused(
            &with_head("---\nasn: 1\n"),
            Syntax,
            4,
            "(document)",
            &["more than one YAML document"],
        );
    }

    #[test]
    fn a_key_given_twice_names_both_lines() {
        assert_refused(
            "asn: 65000\nrouter_id: 10.0.0.1\nasn: 65001\n",
            Duplicate,
            3,
            "asn",
            &["given twice", "first at line 1", "keep one"],
        );
    }

    #[test]
    fn an_empty_file_says_what_is_required() {
        assert_refused(
            "# nothing yet\n",
            Missing,
            1,
            "(document)",
            &["`asn` and `router_id` are required"],
        );
    }

    #[test]
    fn a_top_level_list_is_not_a_config() {
        assert_refused(
            "- asn: 65000\n",
            WrongType,
            1,
            "(document)",
            &["expected a mapping of settings", "found a list"],
        );
    }
}
