//! `oci-stamp annotate path/to/Chart.yaml`: a Helm chart (recognised by content) gets the
//! annotations in its top-level `annotations:` map, comments and the rest of the file kept,
//! read back here by a strict YAML reader. (`helm` itself is not installable on the
//! development machines, so `helm lint`/`helm show chart` are not run.)

use yaml_rust2::{Yaml, YamlLoader};

use crate::harness::{key, Sandbox};

const CHART: &str = "# Web frontend\napiVersion: v2\nname: web # the release name\n\
description: The web frontend\ntype: application\nversion: 0.4.0\nappVersion: \"2.1.0\"\n\
annotations:\n  category: Web   # kept\n";

fn load(text: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(text).expect("the chart is YAML");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

#[test]
fn a_chart_is_stamped_and_reads_back() {
    let sb = Sandbox::new();
    let repo = sb.repo("web");
    repo.write("charts/web/Chart.yaml", CHART)
        .write("charts/web/values.yaml", "replicas: 1\n")
        .commit("one");
    let head = repo.head();
    let out = repo
        .stamp([
            "annotate",
            "-a",
            "licenses=Apache-2.0",
            "-a",
            "version=2.1.0",
            "charts/web/Chart.yaml",
        ])
        .run();
    out.ok();
    assert!(
        out.line("chart-own-key")
            .contains("`org.opencontainers.image.version`"),
        "{out}"
    );
    let text = std::fs::read_to_string(repo.path.join("charts/web/Chart.yaml")).unwrap();
    assert!(text.starts_with("# Web frontend\n"), "{text}");
    assert!(text.ends_with("\"\n"), "{text}");
    assert!(text.contains("name: web # the release name\n"), "{text}");
    assert!(text.contains("  category: Web   # kept\n"), "{text}");
    let chart = load(&text);
    assert_eq!(chart["name"].as_str(), Some("web"));
    assert_eq!(chart["version"].as_str(), Some("0.4.0"));
    let ann = &chart["annotations"];
    assert_eq!(ann["category"].as_str(), Some("Web"));
    assert_eq!(ann[key("revision").as_str()].as_str(), Some(head.as_str()));
    assert_eq!(ann[key("licenses").as_str()].as_str(), Some("Apache-2.0"));
    assert!(ann[key("created").as_str()].as_str().is_some());
    // helm push sets these two from the chart: not written
    assert!(ann[key("version").as_str()].is_badvalue());
    assert!(ann[key("title").as_str()].is_badvalue());
    // validate reads the chart's annotations back
    let out = repo.stamp(["validate", "charts/web/Chart.yaml"]).run();
    out.ok();
    // a second run changes nothing
    let before = text.clone();
    repo.stamp([
        "annotate",
        "-a",
        "licenses=Apache-2.0",
        "charts/web/Chart.yaml",
    ])
    .run()
    .ok();
    let after = std::fs::read_to_string(repo.path.join("charts/web/Chart.yaml")).unwrap();
    assert_eq!(before, after);
}

#[test]
fn a_chart_without_annotations_gets_the_map() {
    let sb = Sandbox::new();
    let dir = sb.dir(
        "c",
        &[("Chart.yaml", "apiVersion: v2\nname: api\nversion: 1.0.0\n")],
    );
    sb.stamp([
        "annotate",
        "--created",
        "@1704164645",
        "-a",
        "source=https://github.com/o/api",
        "c/Chart.yaml",
    ])
    .run()
    .ok();
    let chart = load(&std::fs::read_to_string(dir.join("Chart.yaml")).unwrap());
    assert_eq!(
        chart["annotations"][key("source").as_str()].as_str(),
        Some("https://github.com/o/api")
    );
    assert_eq!(
        chart["annotations"][key("created").as_str()].as_str(),
        Some("2024-01-02T03:04:05Z")
    );
    // Chart.yaml is not a collection source: nothing of it is collected
    let out = sb
        .stamp([
            "collect",
            "--format",
            "json",
            "-C",
            "c",
            "--created",
            "@1704164645",
        ])
        .run();
    out.ok();
    let got = out.annotations();
    assert_eq!(got.get(&key("title")), None);
    assert_eq!(got.get(&key("version")), None);
}
