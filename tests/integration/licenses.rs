//! Licenses are never a guess: declared names canonicalised only when they have one meaning,
//! ambiguous ones resolved by the license text or left out with a warning, license files
//! recognised with their exceptions and notices, and combined by the documented rule. The
//! texts are the SPDX license list's, from the spdx crate.

use crate::harness::{key, Sandbox};

fn license(id: &str) -> &'static str {
    spdx::text::LICENSE_TEXTS
        .iter()
        .find(|(n, _)| *n == id)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("the spdx crate has no text for {id}"))
}

fn exception(id: &str) -> &'static str {
    spdx::text::EXCEPTION_TEXTS
        .iter()
        .find(|(n, _)| *n == id)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("the spdx crate has no text for {id}"))
}

/// The `licenses` an `--explain` run published, if any.
fn licenses(out: &crate::harness::Output) -> Option<String> {
    out.json()["annotations"][key("licenses")]
        .as_str()
        .map(str::to_string)
}

const EXPLAIN: &[&str] = &["collect", "--format", "json", "--explain"];

fn pyproject(license: &str) -> String {
    format!("[project]\nname = \"flasky\"\nversion = \"3.2.0\"\nlicense = \"{license}\"\n")
}

#[test]
fn an_ambiguous_name_is_resolved_by_the_matching_text() {
    // flask: `license = "BSD"` and a BSD-3-Clause LICENSE.txt
    let sb = Sandbox::new();
    let repo = sb.repo("flasky");
    repo.write("pyproject.toml", pyproject("BSD"))
        .write("LICENSE.txt", license("BSD-3-Clause"))
        .commit("one");
    let out = repo.stamp(EXPLAIN).run();
    out.ok();
    let j = out.json();
    assert_eq!(j["annotations"][key("licenses")], "BSD-3-Clause");
    assert_eq!(
        j["sources"][key("licenses")]["note"],
        "`BSD` resolved by the text of LICENSE.txt"
    );
    assert_eq!(
        out.line("license-canonicalised"),
        "warning[license-canonicalised]: pyproject.toml declares the license `BSD`, which names several licenses; the text of LICENSE.txt is `BSD-3-Clause`: read as `BSD-3-Clause` — declare `BSD-3-Clause` in pyproject.toml"
    );
}

#[test]
fn an_ambiguous_name_without_a_deciding_text_is_left_out() {
    let sb = Sandbox::new();
    let repo = sb.repo("nobody");
    repo.write("pyproject.toml", pyproject("BSD")).commit("one");
    let out = repo.stamp(EXPLAIN).run();
    out.ok();
    assert_eq!(licenses(&out), None, "{out}");
    let line = out.line("ambiguous-license");
    for part in [
        "pyproject.toml declares the license `BSD`",
        "(0BSD, BSD-2-Clause, BSD-3-Clause, BSD-4-Clause)",
        "no license text in the checkout tells which",
        "declare the SPDX identifier meant in pyproject.toml",
    ] {
        assert!(line.contains(part), "{part}\n{out}");
    }
    // --require licenses then fails and says to declare it
    let out = repo.stamp(["collect", "--require", "licenses"]).run();
    out.status(1);
    assert!(out.line("missing-required").contains("--licenses"), "{out}");

    // a text that is none of the candidates decides nothing either
    repo.write("LICENSE", license("MIT")).commit("two");
    let out = repo.stamp(EXPLAIN).run();
    assert_eq!(licenses(out.ok()), None, "{out}");
    assert!(
        out.line("ambiguous-license")
            .contains("the text of LICENSE is `MIT`, not one of them"),
        "{out}"
    );

    // GPL and a GPL-3.0 text: still two (-only, -or-later)
    repo.write("pyproject.toml", pyproject("GPL"))
        .write("LICENSE", license("GPL-3.0-only"))
        .commit("three");
    let out = repo.stamp(EXPLAIN).run();
    assert_eq!(licenses(out.ok()), None, "{out}");
    assert!(
        out.line("ambiguous-license")
            .contains("the text of LICENSE is shared by `GPL-3.0-only` and `GPL-3.0-or-later`"),
        "{out}"
    );
}

#[test]
fn unambiguous_lenient_names_are_canonicalised_with_a_warning() {
    let sb = Sandbox::new();
    let repo = sb.repo("lenient");
    for (declared, canon) in [
        ("Apache 2.0", "Apache-2.0"),
        ("GPLv2+", "GPL-2.0-or-later"),
        ("MIT and Apache-2.0", "MIT AND Apache-2.0"),
    ] {
        repo.write("pyproject.toml", pyproject(declared))
            .commit(declared);
        let out = repo.stamp(EXPLAIN).run();
        out.ok();
        assert_eq!(licenses(&out).unwrap(), canon, "{out}");
        assert!(
            out.line("license-canonicalised")
                .contains(&format!("read as `{canon}`")),
            "{out}"
        );
    }
    // MIT/X11 is one license known by two names, not a choice
    repo.write("pyproject.toml", pyproject("MIT/X11"))
        .commit("x11");
    let out = repo.stamp(EXPLAIN).run();
    assert_eq!(licenses(out.ok()), None, "{out}");
    assert!(
        out.line("ambiguous-license").contains("(MIT, X11)"),
        "{out}"
    );
}

#[test]
fn exceptions_are_kept() {
    // wasmtime: Apache-2.0 followed by the LLVM exception
    let sb = Sandbox::new();
    let repo = sb.repo("wasm");
    let text = format!(
        "{}\n\n{}",
        license("Apache-2.0"),
        exception("LLVM-exception")
    );
    repo.write("LICENSE", text).commit("one");
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    assert_eq!(licenses(&out).unwrap(), "Apache-2.0 WITH LLVM-exception");
    // GPL-2.0 with the Classpath exception: the exception is kept, -only/-or-later undecided
    let repo = sb.repo("jdk");
    let text = format!(
        "{}\n\n{}",
        license("GPL-2.0-only"),
        exception("Classpath-exception-2.0")
    );
    repo.write("COPYING", text).commit("one");
    let out = repo.stamp(EXPLAIN).run();
    assert_eq!(licenses(out.ok()), None, "{out}");
    assert!(
        out.line("ambiguous-license").contains(
            "GPL-2.0-only WITH Classpath-exception-2.0, GPL-2.0-or-later WITH Classpath-exception-2.0"
        ),
        "{out}"
    );
    // …and declared, it is taken as it is
    repo.write(
        "pyproject.toml",
        pyproject("GPL-2.0-only WITH Classpath-exception-2.0"),
    )
    .commit("two");
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    assert_eq!(
        licenses(&out).unwrap(),
        "GPL-2.0-only WITH Classpath-exception-2.0"
    );
}

#[test]
fn a_text_with_notices_or_a_header_is_recognised() {
    // ruff: the MIT text, then the licenses of the libraries it derives from
    let sb = Sandbox::new();
    let repo = sb.repo("ruffy");
    let text = format!(
        "{}\n\nend of terms and conditions\n\nThe externally maintained libraries from which parts of the Software is derived are:\n\n- autoflake, licensed as follows:\n  \"\"\"\n{}\n  \"\"\"\n\n- isort, licensed as follows:\n  \"\"\"\n{}\n  \"\"\"\n",
        license("MIT"),
        license("MIT"),
        license("BSD-3-Clause")
    );
    repo.write("LICENSE", text).commit("one");
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    assert_eq!(licenses(&out).unwrap(), "MIT");

    let repo = sb.repo("headed");
    let text = format!(
        "The Headed project\n===================\n\nCopyright (c) 2024 The Headed Authors\n\n{}",
        license("ISC")
    );
    repo.write("LICENCE.md", text).commit("one");
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    assert_eq!(licenses(&out).unwrap(), "ISC");
}

#[test]
fn several_files_combine_by_the_documented_rule() {
    let sb = Sandbox::new();
    let repo = sb.repo("triple");
    repo.write("LICENSE-MIT", license("MIT"))
        .write("LICENSE-APACHE", license("Apache-2.0"))
        .write("LICENSE-ZLIB", license("Zlib"))
        .commit("one");
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    let j = out.json();
    assert_eq!(
        j["annotations"][key("licenses")],
        "Apache-2.0 OR MIT OR Zlib"
    );
    assert!(
        j["sources"][key("licenses")]["note"]
            .as_str()
            .unwrap()
            .contains("a choice of them (OR), the convention of dual licensing"),
        "{out}"
    );
    // ripgrep's UNLICENSE + LICENSE-MIT
    let repo = sb.repo("rg");
    repo.write("UNLICENSE", license("Unlicense"))
        .write("LICENSE-MIT", license("MIT"))
        .commit("one");
    let out = repo.stamp(EXPLAIN).run();
    assert_eq!(licenses(out.ok()).unwrap(), "MIT OR Unlicense");
    // REUSE: LICENSES/<ID>.txt, all of them
    let repo = sb.repo("reuse");
    repo.write("LICENSES/MIT.txt", license("MIT"))
        .write("LICENSES/CC-BY-4.0.txt", license("CC-BY-4.0"))
        .commit("one");
    let out = repo.stamp(EXPLAIN).run();
    let j = out.ok().json();
    assert_eq!(j["annotations"][key("licenses")], "CC-BY-4.0 AND MIT");
    assert!(
        j["sources"][key("licenses")]["note"]
            .as_str()
            .unwrap()
            .contains("REUSE"),
        "{out}"
    );
}

#[test]
fn an_unrecognised_license_file_is_a_warning() {
    let sb = Sandbox::new();
    let repo = sb.repo("odd");
    repo.write("COPYING", "You may use this only on Tuesdays.\n")
        .commit("one");
    let out = repo.stamp(EXPLAIN).run();
    out.ok();
    assert_eq!(licenses(&out), None, "{out}");
    assert!(
        out.line("license-not-recognised")
            .contains("the license file COPYING is not a license text"),
        "{out}"
    );
    // with a recognised one beside it, the whole is still not known
    repo.write("LICENSE-MIT", license("MIT")).commit("two");
    let out = repo.stamp(EXPLAIN).run();
    assert_eq!(licenses(out.ok()), None, "{out}");
    assert!(
        out.line("license-not-recognised")
            .contains("(LICENSE-MIT is `MIT`)"),
        "{out}"
    );
    let out = repo.stamp(["collect", "--require", "licenses"]).run();
    out.status(1);
    assert!(out.line("missing-required").contains("--licenses"), "{out}");
}

#[test]
fn npm_see_license_in_and_the_licenses_array() {
    let sb = Sandbox::new();
    let repo = sb.repo("npm");
    repo.write(
        "package.json",
        r#"{"name": "see", "version": "1.0.0", "license": "SEE LICENSE IN LICENSE.md"}"#,
    )
    .write("LICENSE.md", license("BSD-2-Clause"))
    .commit("one");
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    let j = out.json();
    assert_eq!(j["annotations"][key("licenses")], "BSD-2-Clause");
    assert!(
        j["sources"][key("licenses")]["note"]
            .as_str()
            .unwrap()
            .contains("named by package.json"),
        "{out}"
    );
    repo.write(
        "package.json",
        r#"{"name": "old", "licenses": [{"type": "MIT", "url": "x"}, {"type": "GPL-2.0-only"}]}"#,
    )
    .commit("two");
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    assert_eq!(licenses(&out).unwrap(), "MIT OR GPL-2.0-only");
}

#[test]
fn strict_spdx_operators_and_no_license_values() {
    let sb = Sandbox::new();
    let repo = sb.repo("strict");
    repo.write("a", "a").commit("one");
    let out = repo
        .stamp(["collect", "--licenses", "MIT and Apache-2.0"])
        .run();
    out.status(1);
    assert_eq!(
        out.line("invalid-license"),
        "error[invalid-license]: `MIT and Apache-2.0` is not a valid SPDX license expression: the operator `and` must be upper case — write `MIT AND Apache-2.0`"
    );
    for v in ["NONE", "NOASSERTION"] {
        let out = repo
            .stamp(["collect", "-a", &format!("licenses={v}")])
            .run();
        out.status(1);
        assert!(
            out.line("invalid-license")
                .contains("to say nothing about the license, leave the key out"),
            "{v}\n{out}"
        );
    }
}
