//! `oci-stamp validate`: every OCI rule with a good and a bad value, the Kubernetes rules,
//! one line per problem, `--format json`, and exit statuses.

use crate::harness::{Output, Sandbox};

const HASH: &str = "0123456789abcdef0123456789abcdef01234567";

fn validate(sb: &Sandbox, args: &[&str]) -> Output {
    let mut all = vec!["validate"];
    all.extend_from_slice(args);
    sb.stamp(all).run()
}

/// Validates one `-a` value; returns the run.
fn one(sb: &Sandbox, annotation: &str) -> Output {
    validate(sb, &["-a", annotation])
}

/// Asserts a run reported exactly these codes, one line each, with this status.
fn expect(out: &Output, status: i32, codes: &[&str]) {
    out.status(status);
    assert_eq!(out.codes(), codes, "{out}");
    assert_eq!(out.stderr_lines().len(), codes.len(), "{out}");
    assert_eq!(out.stdout, "", "{out}");
}

#[test]
fn every_predefined_key_with_a_good_value_passes() {
    let sb = Sandbox::new();
    let digest = format!("base.digest=sha256:{}", "a".repeat(64));
    let revision = format!("revision={HASH}");
    let args = [
        "-a",
        "created=2024-01-02T03:04:05Z",
        "-a",
        "authors=Ann <ann@example.com>",
        "-a",
        "url=https://example.com/widget",
        "-a",
        "documentation=https://docs.example.com",
        "-a",
        "source=https://github.com/o/r",
        "-a",
        "version=1.2.3",
        "-a",
        &revision,
        "-a",
        "vendor=Acme",
        "-a",
        "licenses=MIT OR Apache-2.0",
        "-a",
        "index-descriptor:ref.name=v1.0.0",
        "-a",
        "title=Widget",
        "-a",
        "description=A widget, with \"quotes\" and $dollars\nand a second line",
        "-a",
        &digest,
        "-a",
        "base.name=docker.io/library/alpine:3.20",
        "-a",
        "com.example.build-id=42",
    ];
    let out = validate(&sb, &args);
    out.ok().quiet();
    assert_eq!(out.stdout, "");

    let mut k8s = vec!["--kubernetes"];
    k8s.extend_from_slice(&args);
    validate(&sb, &k8s).ok().quiet();

    let mut json = vec!["--format", "json"];
    json.extend_from_slice(&args);
    let out = validate(&sb, &json);
    out.ok().quiet();
    assert_eq!(out.json(), serde_json::json!([]));
}

/// Each rule: a bad value (its code, status, and a piece of the one line) and a good value.
#[test]
fn each_rule_with_its_bad_and_good_value() {
    let sb = Sandbox::new();
    let digest = format!("base.digest=sha256:{}", "0".repeat(64));
    let revision = format!("revision={HASH}");
    let full_revision = format!("org.opencontainers.image.revision={HASH}");
    #[rustfmt::skip]
    let cases: &[(&str, i32, &str, &str, &str)] = &[
        // (bad, status, code, in the line, good)
        ("org.opencontainers.image.revison=x", 1, "unknown-oci-key",
            "did you mean `org.opencontainers.image.revision`?", &full_revision),
        ("org.opencontainers.image.license=MIT", 1, "unknown-oci-key",
            "did you mean `org.opencontainers.image.licenses`?", "org.opencontainers.image.licenses=MIT"),
        ("org.opencontainers.image.shoesize=42", 1, "unknown-oci-key",
            "use a key under your own reverse domain", "com.example.shoesize=42"),
        ("license=MIT", 1, "unknown-short-name",
            "did you mean `licenses` (org.opencontainers.image.licenses)?", "licenses=MIT"),
        ("oci.opencontainers.image.revision=x", 1, "misspelled-oci-key",
            "did you mean `org.opencontainers.image.revision`?", &revision),
        ("org.opencontainers.artifact.created=x", 1, "reserved-key",
            "`org.opencontainers.artifact.created` is under `org.opencontainers.`", "com.example.created=x"),
        ("org.opencontainers.image.os=linux", 0, "runtime-key",
            "defined for runtime bundles", "com.example.os=linux"),
        ("=x", 1, "empty-key", "an annotation key is empty", "com.example.k=x"),
        ("com.example.a b=x", 1, "key-invalid-char", "key `com.example.a b` contains whitespace",
            "com.example.a-b=x"),
        ("com.example.a\tb=x", 1, "key-invalid-char", "contains the control character U+0009",
            "com.example.a_b=x"),
        ("buildid=1", 0, "not-reverse-domain", "key `buildid` is not a reverse-domain name",
            "com.example.buildid=1"),
        ("created=2024-01-02", 1, "invalid-created",
            "`2024-01-02` is not an RFC 3339 date-time: a date without a time", "created=2024-01-02T05:04:05+02:00"),
        ("created=2024-01-02 03:04:05Z", 1, "invalid-created", "upper-case `T`",
            "created=2024-01-02T03:04:05.5Z"),
        ("licenses=MIT/Apache-2.0", 1, "invalid-license", "— write `MIT OR Apache-2.0`",
            "licenses=Apache-2.0 WITH LLVM-exception"),
        ("licenses=Apache 2.0", 1, "invalid-license", "— write `Apache-2.0`", "licenses=Apache-2.0"),
        ("licenses=Totally Custom", 1, "invalid-license", "LicenseRef-", "licenses=LicenseRef-Custom"),
        ("url=github.com/o/r", 1, "invalid-url", "`github.com/o/r` is not an absolute URL",
            "url=https://github.com/o/r"),
        ("documentation=mailto:docs@example.com", 1, "invalid-url", "not an absolute URL with a host",
            "documentation=https://docs.example.com/"),
        ("ref.name=-bad", 1, "invalid-ref-name", "`-bad` does not match the image-spec ref.name grammar",
            "ref.name=v1.0.0"),
        ("ref.name=a//b", 1, "invalid-ref-name", "`a//b` does not match", "ref.name=a/b--c"),
        ("base.digest=sha256:abc", 1, "invalid-digest", "sha256 needs 64 hex digits, found 3", &digest),
        ("base.name=alpine:3.20", 1, "invalid-base-name",
            "— write `docker.io/library/alpine:3.20`", "base.name=docker.io/library/alpine:3.20"),
        ("base.name=ghcr.io/O/r", 1, "invalid-base-name", "not a fully qualified image reference",
            "base.name=ghcr.io/o/r:1"),
        ("revision=abc1234", 0, "revision-not-hash",
            "revision `abc1234` is not a full 40- or 64-character commit hash", &revision),
    ];
    for (bad, status, code, fragment, good) in cases {
        // ref.name is checked at the level it belongs to, so only its own rule fires
        let level = |a: &str| {
            if a.starts_with("ref.name=") {
                format!("index-descriptor:{a}")
            } else {
                a.to_string()
            }
        };
        let out = one(&sb, &level(bad));
        expect(&out, *status, &[code]);
        assert!(
            out.line(code).contains(fragment),
            "{bad}: want `{fragment}`\n{out}"
        );
        let severity = if *status == 0 { "warning[" } else { "error[" };
        assert!(out.line(code).starts_with(severity), "{out}");

        let out = one(&sb, &level(good));
        out.ok();
        assert_eq!(out.stderr, "", "{good} should pass\n{out}");
    }
}

#[test]
fn credentials_in_urls_are_refused_without_echo() {
    let sb = Sandbox::new();
    let out = one(
        &sb,
        "source=https://x-access-token:ghs_SECRET@github.com/o/r",
    );
    expect(&out, 1, &["url-credentials"]);
    assert!(!out.stderr.contains("ghs_SECRET"), "{out}");
    assert!(!out.stderr.contains("x-access-token"), "{out}");
    assert!(
        out.line("url-credentials")
            .contains("`https://***@github.com/o/r`"),
        "{out}"
    );

    let out = one(&sb, "url=https://TOKEN123@github.com/o/r");
    expect(&out, 1, &["url-credentials"]);
    assert!(!out.stderr.contains("TOKEN123"), "{out}");

    let out = one(
        &sb,
        "source=https://gitlab.com/g/p?private_token=glpat-SECRET&ref=main",
    );
    expect(&out, 1, &["url-secret-query"]);
    assert!(!out.stderr.contains("glpat-SECRET"), "{out}");

    // and not in JSON either
    let out = validate(
        &sb,
        &[
            "-f",
            "json",
            "-a",
            "source=https://u:hunter2@github.com/o/r",
        ],
    );
    out.status(1);
    assert!(!out.stdout.contains("hunter2"), "{out}");
    assert_eq!(out.json()[0]["code"], "url-credentials");

    // values the URL parser refuses or reads without a host: still not echoed
    for (value, shown) in [
        (
            "source=deploy:SECRET9@git.example.com:o/r.git",
            "`***@git.example.com:o/r.git`",
        ),
        (
            "url=https://u:SEC@RET9@host:notaport/o/r",
            "`https://***@host:notaport/o/r`",
        ),
    ] {
        let out = one(&sb, value);
        expect(&out, 1, &["invalid-url"]);
        assert!(!out.stderr.contains("SEC"), "{out}");
        assert!(out.line("invalid-url").contains(shown), "{out}");
    }
}

#[test]
fn ref_name_belongs_on_index_descriptors() {
    let sb = Sandbox::new();
    let out = one(&sb, "ref.name=v1.0.0");
    expect(&out, 0, &["ref-name-level"]);
    assert!(out
        .line("ref-name-level")
        .contains("write it as `index-descriptor:org.opencontainers.image.ref.name=…`"));
    one(&sb, "index-descriptor:ref.name=v1.0.0").ok().quiet();
}

#[test]
fn keys_only_a_file_can_hold() {
    let sb = Sandbox::new();
    let dir = sb.dir(
        "f",
        &[
            ("eq.json", r#"{"com.example.a=b": "x"}"#),
            ("colon.json", r#"{"com.example:x": "1"}"#),
            ("nul.json", r#"{"com.example.x": "a\u0000b"}"#),
        ],
    );
    let run = |f: &str| {
        validate(
            &sb,
            &["--annotation-file", &dir.join(f).display().to_string()],
        )
    };
    let out = run("eq.json");
    expect(&out, 1, &["key-invalid-char"]);
    assert!(
        out.line("key-invalid-char").contains("contains `=`"),
        "{out}"
    );
    expect(&run("colon.json"), 0, &["key-colon"]);
    expect(&run("nul.json"), 1, &["value-nul"]);
}

#[test]
fn duplicate_keys_are_refused() {
    let sb = Sandbox::new();
    let out = validate(
        &sb,
        &[
            "-a",
            "version=1",
            "-a",
            "org.opencontainers.image.version=2",
        ],
    );
    expect(&out, 1, &["duplicate-key"]);
}

#[test]
fn several_problems_one_line_each() {
    let sb = Sandbox::new();
    let out = validate(
        &sb,
        &[
            "-a",
            "created=yesterday",
            "-a",
            "url=example.com",
            "-a",
            "licenses=MIT/Apache-2.0",
            "-a",
            "org.opencontainers.image.revison=x",
            "-a",
            "buildid=1",
        ],
    );
    // ordered by key
    expect(
        &out,
        1,
        &[
            "not-reverse-domain",
            "invalid-created",
            "invalid-license",
            "unknown-oci-key",
            "invalid-url",
        ],
    );
    for line in out.stderr_lines() {
        assert!(
            line.starts_with("error[") || line.starts_with("warning["),
            "{line}"
        );
    }
}

#[test]
fn json_findings_parse() {
    let sb = Sandbox::new();
    let out = validate(
        &sb,
        &[
            "--format",
            "json",
            "-a",
            "created=2024-01-02",
            "-a",
            "revision=abc",
        ],
    );
    out.status(1);
    assert_eq!(out.stderr, "", "{out}");
    assert_eq!(
        out.json(),
        serde_json::json!([
            {
                "severity": "error",
                "code": "invalid-created",
                "key": "org.opencontainers.image.created",
                "message": "`2024-01-02` is not an RFC 3339 date-time: a date without a time; add one, like `T00:00:00Z`",
                "hint": "write it like `2024-01-02T03:04:05Z`, or use --created"
            },
            {
                "severity": "warning",
                "code": "revision-not-hash",
                "key": "org.opencontainers.image.revision",
                "message": "revision `abc` is not a full 40- or 64-character commit hash",
                "hint": "use the full hash (`git rev-parse HEAD`) so the source can be found again"
            }
        ])
    );
    // warnings alone: exit 0
    let out = validate(&sb, &["-f", "json", "-a", "revision=abc"]);
    out.ok();
    assert_eq!(out.json()[0]["severity"], "warning");
}

#[test]
fn kubernetes_key_rules() {
    let sb = Sandbox::new();
    let long_name = format!("example.com/{}", "n".repeat(64));
    let ok_name = format!("example.com/{}=1", "n".repeat(63));
    #[rustfmt::skip]
    let bad: &[(&str, &str)] = &[
        ("Exa_mple.com/x=1", "the prefix `exa_mple.com` is not a DNS-1123 subdomain"),
        ("example.com/x/y=1", "a key holds at most one `/`"),
        ("example.com/-x=1", "must start and end with a letter or digit"),
        ("/x=1", "the prefix before `/` is empty"),
        (&format!("{long_name}=1"), "the name is 64 bytes long (at most 63)"),
    ];
    for (annotation, fragment) in bad {
        let out = validate(&sb, &["--kubernetes", "-a", annotation]);
        out.status(1);
        assert!(out.codes().contains(&"kubernetes-key"), "{out}");
        assert!(
            out.line("kubernetes-key").contains(fragment),
            "{annotation}\n{out}"
        );
        // without --kubernetes, no Kubernetes finding
        let out = validate(&sb, &["-a", annotation]);
        assert!(!out.codes().contains(&"kubernetes-key"), "{out}");
    }
    for good in [
        "example.com/build-id=1",
        "io.k8s.description=x",
        // apimachinery lower-cases the key before the qualified-name check
        "Example.COM/MyKey=1",
        ok_name.as_str(),
    ] {
        validate(&sb, &["--kubernetes", "-a", good]).ok().quiet();
    }
}

#[test]
fn kubernetes_size_limit() {
    let sb = Sandbox::new();
    const LIMIT: usize = 262_144;
    let k = "com.example.big";
    let at_limit = format!(r#"{{"{k}": "{}"}}"#, "x".repeat(LIMIT - k.len()));
    let over = format!(r#"{{"{k}": "{}"}}"#, "x".repeat(LIMIT - k.len() + 1));
    let dir = sb.dir("f", &[("at.json", &at_limit), ("over.json", &over)]);
    let run = |f: &str, kube: bool| {
        let file = dir.join(f).display().to_string();
        let mut args = vec!["--annotation-file", &file];
        if kube {
            args.push("--kubernetes");
        }
        validate(&sb, &args)
    };
    run("at.json", true).ok().quiet();
    run("over.json", false).ok().quiet();
    let out = run("over.json", true);
    expect(&out, 1, &["kubernetes-size"]);
    assert_eq!(
        out.stderr,
        "error[kubernetes-size]: the annotations total 262145 bytes, over the Kubernetes limit of 262144 — shorten or drop large values (descriptions, existing annotations)\n"
    );
}

#[test]
fn annotation_file_from_stdin() {
    let sb = Sandbox::new();
    let out = sb
        .stamp(["validate", "--annotation-file", "-"])
        .stdin("# comment\nversion=1\ncreated=bad\n")
        .run();
    expect(&out, 1, &["invalid-created"]);
    let out = sb
        .stamp(["validate", "--annotation-file", "-"])
        .stdin(r#"{"version": "1", "created": "2024-01-02T03:04:05Z"}"#)
        .run();
    out.ok().quiet();
}

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new();
    // No annotations and no target: the directory's collection is checked (here, not a
    // git checkout: said, and not an error).
    let out = validate(&sb, &[]);
    out.ok();
    assert_eq!(out.codes(), ["no-git"], "{out}");
    assert_eq!(
        out.stdout, ".: 1 annotation collected, all valid\n",
        "{out}"
    );
    let out = validate(&sb, &["-a", "novalue"]);
    out.status(2);
    assert!(out.stderr_lines()[0]
        .starts_with("error: invalid value 'novalue' for '--annotation <[LEVELS:]KEY=VALUE>'"));
    let out = validate(&sb, &["-a", "bogus:version=1"]);
    out.status(2);
    assert!(out.stderr.contains("unknown level `bogus`"), "{out}");
    let out = validate(&sb, &["--format", "yaml", "-a", "version=1"]);
    out.status(2);
    let missing = sb.path().join("missing.json").display().to_string();
    let out = validate(&sb, &["--annotation-file", &missing]);
    out.status(2);
    assert_eq!(out.stderr_lines().len(), 1, "{out}");
    assert!(
        out.stderr.starts_with(&format!("error: {missing}: ")),
        "{out}"
    );
    let bad = sb
        .dir("f", &[("n.json", r#"{"version": 1}"#)])
        .join("n.json");
    let out = validate(&sb, &["--annotation-file", &bad.display().to_string()]);
    out.status(2);
    assert_eq!(out.stderr_lines().len(), 1, "{out}");
}
