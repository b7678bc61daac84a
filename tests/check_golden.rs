//! Golden files for `reflectd --config FILE --check --print`, as OpenBGPD's regress does
//! with `bgpd -nv`: every shipped config (`config/*.yaml`) and every test config under
//! `tests/config/` is checked by the real binary, and what it prints is compared with a
//! committed `.ok` file. A valid config prints its effective configuration (every key,
//! defaults filled in) and exits 0; an invalid one prints its `FILE:LINE: KEY: message` and
//! exits 2.
//!
//!   tests/config/valid/NAME.yaml     valid test configs, NAME.ok beside them
//!   tests/config/invalid/NAME.yaml   invalid test configs, NAME.ok beside them
//!   tests/config/shipped/NAME.ok     for config/NAME.yaml
//!
//! A difference fails with a diff; so does a missing `.ok` file, and an `.ok` file whose
//! config is gone. After a deliberate change of the output, rewrite the `.ok` files with
//!
//!   REFLECTD_BLESS=1 cargo test --test check_golden
//!
//! and review the diff before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Set to 1 to write the `.ok` files from what the binary prints now.
const BLESS: &str = "REFLECTD_BLESS";

struct Case {
    /// Relative to the package root, as given on the command line (and so as printed).
    config: PathBuf,
    ok: PathBuf,
    exit: i32,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `.yaml` files in `dir` (relative to the package root), sorted.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| Path::new(dir).join(p.file_name().unwrap()))
        .collect();
    files.sort();
    files
}

fn cases() -> Vec<Case> {
    let beside = |exit: i32| {
        move |config: PathBuf| Case {
            ok: config.with_extension("ok"),
            config,
            exit,
        }
    };
    let shipped = yaml_files("config").into_iter().map(|config| Case {
        ok: Path::new("tests/config/shipped")
            .join(config.file_name().unwrap())
            .with_extension("ok"),
        config,
        exit: 0,
    });
    let valid = yaml_files("tests/config/valid").into_iter().map(beside(0));
    let invalid = yaml_files("tests/config/invalid")
        .into_iter()
        .map(beside(2));
    shipped.chain(valid).chain(invalid).collect()
}

/// What the binary prints for `case`: stdout, then stderr.
fn check(case: &Case) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_reflectd"))
        .current_dir(root())
        .arg("--config")
        .arg(&case.config)
        .args(["--check", "--print"])
        .output()
        .expect("run reflectd");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(case.exit),
        "{}: exit status; output:\n{text}",
        case.config.display()
    );
    text
}

/// A line diff of `want` (the .ok file, `-`) and `got` (`+`), from a longest common
/// subsequence: the files are small.
fn diff(want: &str, got: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    // lcs[i][j]: common lines of a[i..] and b[j..]
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("- {}\n", a[i]);
            i += 1;
        } else {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        }
    }
    out
}

#[test]
fn every_config_checks_to_its_golden_output() {
    let bless = std::env::var(BLESS).is_ok_and(|v| v == "1");
    let cases = cases();
    assert!(cases.len() > 2, "no test configs found");
    let mut failures = Vec::new();
    for case in &cases {
        let got = check(case);
        let ok = root().join(&case.ok);
        if bless {
            std::fs::write(&ok, &got).unwrap_or_else(|e| panic!("{}: {e}", ok.display()));
            continue;
        }
        match std::fs::read_to_string(&ok) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{} differs from {} (- expected, + printed):\n{}",
                case.config.display(),
                case.ok.display(),
                diff(&want, &got)
            )),
            Err(e) => failures.push(format!(
                "{}: no golden file {} ({e}); it would hold:\n{got}",
                case.config.display(),
                case.ok.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} configs differ from their golden files; if the change is meant, run \
         `{BLESS}=1 cargo test --test check_golden` and review the diff\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_golden_file_has_its_config() {
    let cases = cases();
    let mut orphans = Vec::new();
    for dir in [
        "tests/config/shipped",
        "tests/config/valid",
        "tests/config/invalid",
    ] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = Path::new(dir).join(entry.unwrap().file_name());
            let is_ok = path.extension().is_some_and(|x| x == "ok");
            if is_ok && !cases.iter().any(|c| c.ok == path) {
                orphans.push(path.display().to_string());
            }
        }
    }
    assert!(
        orphans.is_empty(),
        "golden files without a config (remove them): {orphans:?}"
    );
}

#[test]
fn the_diff_marks_what_was_expected_and_what_was_printed() {
    assert_eq!(diff("a\nb\nc\n", "a\nx\nc\n"), "  a\n- b\n+ x\n  c\n");
    assert_eq!(diff("a\n", "a\nb\n"), "  a\n+ b\n");
    assert_eq!(diff("", ""), "");
}
