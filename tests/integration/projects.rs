//! The package being built: the project file nearest to `--repo`, in each ecosystem's shape
//! (Cargo and npm workspaces, Maven modules, Go nested modules, setup.cfg, dynamic Python
//! versions, poetry, composer.json, .NET project files).

use serde_json::Value;

use crate::harness::{key, Repo, Sandbox};

/// `collect --format json --explain` in `dir` of the repository (`-C`).
fn explain(repo: &Repo<'_>, dir: &str) -> (Value, String) {
    let out = repo
        .stamp(["collect", "--format", "json", "--explain", "-C", dir])
        .run();
    out.ok();
    (out.json(), out.stderr.clone())
}

fn value(explained: &Value, k: &str) -> Option<String> {
    explained["annotations"][key(k)]
        .as_str()
        .map(str::to_string)
}

fn source(explained: &Value, k: &str) -> String {
    explained["sources"][key(k)]["source"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn note(explained: &Value, k: &str) -> String {
    explained["sources"][key(k)]["note"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_cargo_workspace_member_is_the_package() {
    let sb = Sandbox::new();
    let repo = sb.repo("ws");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.package]\nversion = \"2.1.0\"\n\
         license = \"MIT\"\nrepository = \"https://github.com/o/ws\"\n\n\
         [package]\nname = \"ws-cli\"\nversion = \"9.0.0\"\n",
    )
    .write(
        "crates/core/Cargo.toml",
        "[package]\nname = \"ws-core\"\nversion.workspace = true\nlicense.workspace = true\n\
         repository.workspace = true\ndescription = \"The core\"\n",
    )
    .write("crates/core/src/lib.rs", "")
    .commit("one");
    let (e, _) = explain(&repo, "crates/core/src");
    assert_eq!(value(&e, "title").as_deref(), Some("ws-core"));
    assert_eq!(value(&e, "version").as_deref(), Some("2.1.0"));
    assert_eq!(value(&e, "licenses").as_deref(), Some("MIT"));
    assert_eq!(value(&e, "description").as_deref(), Some("The core"));
    assert_eq!(source(&e, "version"), "crates/core/Cargo.toml version");
    assert_eq!(
        note(&e, "version"),
        "from [workspace.package] of Cargo.toml; \
         the project file nearest to crates/core/src, not the root's Cargo.toml"
    );
    // at the root, the root package
    let (e, _) = explain(&repo, ".");
    assert_eq!(value(&e, "title").as_deref(), Some("ws-cli"));
    assert_eq!(value(&e, "version").as_deref(), Some("9.0.0"));
    assert_eq!(note(&e, "version"), "");
    // run from inside the member without -C: the working directory is the default
    let out = repo
        .stamp(["collect", "--format", "json"])
        .current_dir(&repo.path.join("crates/core"))
        .run();
    out.ok();
    assert_eq!(out.annotations()[&key("title")], "ws-core");
}

#[test]
fn a_virtual_workspace_falls_through() {
    let sb = Sandbox::new();
    let repo = sb.repo("virtual");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"a\"]\n[workspace.package]\nversion = \"1.0.0\"\n",
    )
    .write(
        "a/Cargo.toml",
        "[package]\nname = \"a\"\nversion.workspace = true\n",
    )
    .commit("one");
    let (e, stderr) = explain(&repo, ".");
    // nothing from the workspace: the title is the checkout's name, no version
    assert_eq!(value(&e, "title").as_deref(), Some("virtual"));
    assert_eq!(source(&e, "title"), "checkout directory name");
    assert_eq!(value(&e, "version"), None);
    assert!(!stderr.contains("project-"), "{stderr}");
    // a package.json beside it is the next file of the list
    repo.write(
        "package.json",
        r#"{"name":"virtual-npm","version":"0.2.0"}"#,
    )
    .commit("two");
    let (e, _) = explain(&repo, ".");
    assert_eq!(value(&e, "title").as_deref(), Some("virtual-npm"));
    assert_eq!(source(&e, "title"), "package.json name");
}

#[test]
fn an_npm_workspace_package() {
    let sb = Sandbox::new();
    let repo = sb.repo("mono");
    repo.write(
        "package.json",
        r#"{"name":"mono","version":"10.0.0","license":"Artistic-2.0","workspaces":["workspaces/*"]}"#,
    )
    .write(
        "workspaces/tree/package.json",
        r#"{"name":"@mono/tree","version":"8.0.0","license":"ISC","author":"GitHub Inc.",
            "repository":{"type":"git","url":"git+https://github.com/o/mono.git","directory":"workspaces/tree"}}"#,
    )
    .commit("one");
    let (e, _) = explain(&repo, "workspaces/tree");
    assert_eq!(value(&e, "title").as_deref(), Some("@mono/tree"));
    assert_eq!(value(&e, "version").as_deref(), Some("8.0.0"));
    assert_eq!(value(&e, "licenses").as_deref(), Some("ISC"));
    assert_eq!(
        value(&e, "source").as_deref(),
        Some("https://github.com/o/mono")
    );
    assert!(note(&e, "licenses").contains("not the root's package.json"));
}

const PARENT_POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>shop-parent</artifactId>
  <version>${revision}</version>
  <packaging>pom</packaging>
  <name>Shop Parent</name>
  <properties>
    <revision>1.7.0</revision>
  </properties>
  <licenses><license><name>Apache-2.0</name></license></licenses>
  <organization><name>Example Corp</name></organization>
  <developers><developer><name>Ann</name><email>ann@example.com</email></developer></developers>
  <modules><module>service</module></modules>
</project>
"#;

const MODULE_POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>com.example</groupId>
    <artifactId>shop-parent</artifactId>
    <version>${revision}</version>
  </parent>
  <artifactId>shop-service</artifactId>
  <description>The ${project.artifactId} of version ${project.version}</description>
  <url>https://shop.example</url>
  <scm><url>https://github.com/o/shop</url></scm>
</project>
"#;

#[test]
fn a_maven_module_with_its_parent_and_revision() {
    let sb = Sandbox::new();
    let repo = sb.repo("shop");
    repo.write("pom.xml", PARENT_POM)
        .write("service/pom.xml", MODULE_POM)
        .commit("one");
    let (e, stderr) = explain(&repo, "service");
    assert_eq!(value(&e, "title").as_deref(), Some("shop-service"));
    assert_eq!(value(&e, "version").as_deref(), Some("1.7.0"));
    assert_eq!(
        note(&e, "version"),
        "`${revision}` from <properties> of pom.xml, the <parent> of service/pom.xml; \
         the project file nearest to service, not the root's pom.xml"
    );
    assert_eq!(
        value(&e, "description").as_deref(),
        Some("The shop-service of version 1.7.0")
    );
    assert_eq!(value(&e, "licenses").as_deref(), Some("Apache-2.0"));
    assert_eq!(value(&e, "vendor").as_deref(), Some("Example Corp"));
    assert_eq!(
        value(&e, "authors").as_deref(),
        Some("Ann <ann@example.com>")
    );
    assert_eq!(value(&e, "url").as_deref(), Some("https://shop.example"));
    assert_eq!(
        value(&e, "source").as_deref(),
        Some("https://github.com/o/shop")
    );
    assert!(!stderr.contains("project-value"), "{stderr}");
    // without the parent in the checkout, the version is left out with a warning
    let sb = Sandbox::new();
    let repo = sb.repo("lone");
    repo.write("pom.xml", MODULE_POM).commit("one");
    let out = repo.stamp(["collect", "--format", "json"]).run();
    out.ok();
    assert_eq!(out.annotations().get(&key("version")), None);
    // the version, and the description that refers to it
    let lines: Vec<&str> = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("[project-value]"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].contains("the <version> of pom.xml is `${revision}`, and `revision` is defined neither there nor in its parents"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_nested_go_module_takes_its_own_tag() {
    let sb = Sandbox::new();
    let repo = sb.repo("gomono");
    repo.write("go.mod", "module github.com/o/gomono\n\ngo 1.22\n")
        .write(
            "cmd/tool/go.mod",
            "module github.com/o/gomono/cmd/tool/v2 // the tool\n\ngo 1.22\n",
        )
        .commit("one");
    repo.git(&["tag", "v1.4.0"]);
    repo.git(&["tag", "cmd/tool/v2.0.3-rc.1"]);
    repo.git(&["tag", "cmd/tool/v2.0.3"]);
    let (e, _) = explain(&repo, "cmd/tool");
    assert_eq!(value(&e, "title").as_deref(), Some("tool"));
    assert_eq!(value(&e, "version").as_deref(), Some("2.0.3"));
    assert_eq!(
        source(&e, "version"),
        "git tag cmd/tool/v2.0.3 (the module in cmd/tool)"
    );
    // no remote: the source comes from the module path
    assert_eq!(
        value(&e, "source").as_deref(),
        Some("https://github.com/o/gomono")
    );
    assert_eq!(source(&e, "source"), "cmd/tool/go.mod repository");
    // the root module's tag is the root's
    let (e, _) = explain(&repo, ".");
    assert_eq!(value(&e, "title").as_deref(), Some("gomono"));
    assert_eq!(value(&e, "version").as_deref(), Some("1.4.0"));

    // Past the tags, describe counts from the module's own tag, never from the root's
    // (grpc-go's `examples` module has no tags of its own and is not versioned by `v1.85.0`).
    repo.write("cmd/tool/main.go", "package main\n")
        .commit("two");
    repo.git(&["tag", "v1.5.0"]);
    let described = repo.git(&["describe", "--tags", "--match", "cmd/tool/v*"]);
    let short = described.rsplit_once("-g").unwrap().1;
    let (e, _) = explain(&repo, "cmd/tool");
    assert_eq!(
        value(&e, "version"),
        Some(format!("2.0.4-dev.1.g{short}")),
        "{e}"
    );
    repo.write(
        "examples/go.mod",
        "module github.com/o/gomono/examples\n\ngo 1.22\n",
    )
    .commit("three");
    let out = repo
        .stamp(["collect", "-f", "json", "--explain", "-C", "examples"])
        .run();
    out.ok();
    assert_eq!(out.json()["annotations"].get(key("version")), None, "{out}");
    assert!(
        out.line("no-release-tag").contains(
            "none is a release tag of this package (`examples/vVERSION`, as Go versions a module in a subdirectory)"
        ) && out.line("no-release-tag").contains("tag the module's releases `examples/vX.Y.Z`"),
        "{out}"
    );
}

#[test]
fn setup_cfg_metadata() {
    let sb = Sandbox::new();
    let repo = sb.repo("legacy");
    repo.write(
        "setup.cfg",
        "[metadata]\nname = legacy-tool\nversion = 0.8.1\ndescription = An old one\n\
         url = https://legacy.example\nlicense = BSD-3-Clause\nauthor = Lee\n\
         author_email = lee@example.com\n\n[flake8]\nmax-line-length = 99\n",
    )
    .write(
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools\"]\n",
    )
    .commit("one");
    let (e, _) = explain(&repo, ".");
    assert_eq!(value(&e, "title").as_deref(), Some("legacy-tool"));
    assert_eq!(value(&e, "version").as_deref(), Some("0.8.1"));
    assert_eq!(value(&e, "licenses").as_deref(), Some("BSD-3-Clause"));
    assert_eq!(
        value(&e, "authors").as_deref(),
        Some("Lee <lee@example.com>")
    );
    assert_eq!(source(&e, "version"), "setup.cfg version");
}

#[test]
fn a_setuptools_dynamic_version_attr() {
    let sb = Sandbox::new();
    let repo = sb.repo("dyn");
    repo.write(
        "pkg/pyproject.toml",
        "[project]\nname = \"dyn\"\ndynamic = [\"version\"]\n\
         [tool.setuptools.dynamic]\nversion = { attr = \"dyn.__version__\" }\n",
    )
    .write(
        "pkg/src/dyn/__init__.py",
        "\"\"\"Dyn.\"\"\"\n__version__ = \"5.2.1\"\n",
    )
    .commit("one");
    let (e, _) = explain(&repo, "pkg");
    assert_eq!(value(&e, "version").as_deref(), Some("5.2.1"));
    assert_eq!(source(&e, "version"), "pkg/pyproject.toml version");
    assert_eq!(
        note(&e, "version"),
        "from `__version__` in pkg/src/dyn/__init__.py ([tool.setuptools.dynamic] version attr)"
    );
    // a computed one is left out, and said
    repo.write(
        "pkg/src/dyn/__init__.py",
        "__version__ = \".\".join(map(str, (5, 2)))\n",
    )
    .commit("two");
    let out = repo
        .stamp(["collect", "--format", "json", "-C", "pkg"])
        .run();
    out.ok();
    assert_eq!(out.annotations().get(&key("version")), None);
    assert!(out
        .line("project-value")
        .contains("no `__version__ = \"…\"` literal"));
}

#[test]
fn a_poetry_project() {
    let sb = Sandbox::new();
    let repo = sb.repo("poet");
    repo.write(
        "pyproject.toml",
        "[tool.poetry]\nname = \"poet\"\nversion = \"0.3.0\"\ndescription = \"Verses\"\n\
         license = \"MIT\"\nmaintainers = [\"Mo <mo@example.com>\"]\n\
         repository = \"https://github.com/o/poet\"\n",
    )
    .commit("one");
    let (e, _) = explain(&repo, ".");
    assert_eq!(value(&e, "title").as_deref(), Some("poet"));
    assert_eq!(value(&e, "version").as_deref(), Some("0.3.0"));
    assert_eq!(value(&e, "authors").as_deref(), Some("Mo <mo@example.com>"));
    assert_eq!(
        value(&e, "source").as_deref(),
        Some("https://github.com/o/poet")
    );
}

#[test]
fn a_composer_project_before_its_asset_build() {
    let sb = Sandbox::new();
    let repo = sb.repo("shop-php");
    repo.write(
        "composer.json",
        r#"{"name":"acme/shop","description":"A shop","license":["MIT","GPL-2.0-or-later"],
            "homepage":"https://shop.example","authors":[{"name":"Ann","email":"ann@example.com"}]}"#,
    )
    .write("package.json", r#"{"name":"assets","version":"0.0.1","private":true}"#)
    .commit("one");
    let (e, _) = explain(&repo, ".");
    assert_eq!(value(&e, "title").as_deref(), Some("acme/shop"));
    assert_eq!(
        value(&e, "licenses").as_deref(),
        Some("MIT OR GPL-2.0-or-later")
    );
    assert_eq!(note(&e, "licenses"), "the array is a choice (Composer: OR)");
    assert_eq!(
        value(&e, "authors").as_deref(),
        Some("Ann <ann@example.com>")
    );
    assert_eq!(value(&e, "url").as_deref(), Some("https://shop.example"));
    // composer.json has no version here, and package.json's is not taken with it
    assert_eq!(value(&e, "version"), None);
}

#[test]
fn a_csproj_with_directory_build_props() {
    let sb = Sandbox::new();
    let repo = sb.repo("dotnet");
    repo.write(
        "Directory.Build.props",
        "<Project>\n  <PropertyGroup>\n    <VersionPrefix>4.1.0</VersionPrefix>\n\
         <Company>Contoso</Company>\n    <Authors>Ann;Bo</Authors>\n\
         <PackageLicenseExpression>MIT</PackageLicenseExpression>\n  </PropertyGroup>\n</Project>\n",
    )
    .write(
        "src/Api/Api.csproj",
        "<Project Sdk=\"Microsoft.NET.Sdk.Web\">\n  <PropertyGroup>\n\
         <TargetFramework>net8.0</TargetFramework>\n    <VersionSuffix>beta.2</VersionSuffix>\n\
         <Description>The API</Description>\n\
         <RepositoryUrl>https://github.com/contoso/api.git</RepositoryUrl>\n  </PropertyGroup>\n</Project>\n",
    )
    .commit("one");
    let (e, _) = explain(&repo, "src/Api");
    assert_eq!(value(&e, "title").as_deref(), Some("Api"));
    assert_eq!(value(&e, "version").as_deref(), Some("4.1.0-beta.2"));
    assert_eq!(value(&e, "vendor").as_deref(), Some("Contoso"));
    assert_eq!(value(&e, "authors").as_deref(), Some("Ann, Bo"));
    assert_eq!(value(&e, "licenses").as_deref(), Some("MIT"));
    assert_eq!(value(&e, "description").as_deref(), Some("The API"));
    assert_eq!(
        value(&e, "source").as_deref(),
        Some("https://github.com/contoso/api")
    );
    assert_eq!(source(&e, "vendor"), "src/Api/Api.csproj vendor");
    assert_eq!(note(&e, "vendor"), "<Company> of Directory.Build.props");
}

#[test]
fn flags_still_win_over_the_nearest_file() {
    let sb = Sandbox::new();
    let repo = sb.repo("flags");
    repo.write("a/package.json", r#"{"name":"a","version":"1.0.0"}"#)
        .commit("one");
    let out = repo
        .stamp([
            "collect",
            "--format",
            "json",
            "-C",
            "a",
            "-a",
            "version=7.7.7",
        ])
        .run();
    out.ok();
    let got = out.annotations();
    assert_eq!(got[&key("version")], "7.7.7");
    assert_eq!(got[&key("title")], "a");
}
