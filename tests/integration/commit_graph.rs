//! `describe` reads commits from git's commit-graph file when there is one. On histories
//! with merges, equal commit times and tags on both sides of merges, the version must be
//! what `git describe --tags` says, from every HEAD, with no graph, a single graph file, a
//! chain of graph layers, and a graph that holds only the older part of the history (the
//! rest read through libgit2).

use crate::harness::{Repo, Rng, Sandbox, FIRST_COMMIT_EPOCH};

/// A history of `n` commits over three branches with merges, three commits to a committer
/// second (so the walk's tie order matters), and version tags on about one in twelve.
/// Returns the commits' hashes, oldest first.
fn history(repo: &Repo<'_>, n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut stream = String::new();
    let mut tips: Vec<Option<usize>> = vec![None; 3];
    let mut tagged = 0;
    for i in 1..=n {
        let b = if i < 4 { 0 } else { rng.below(3) };
        let t = FIRST_COMMIT_EPOCH + (i as i64 / 3) * 60;
        stream.push_str(&format!(
            "commit refs/heads/b{b}\nmark :{i}\ncommitter T <t@example.com> {t} +0000\ndata 3\nc{}\n",
            i % 10
        ));
        let first = tips[b].or(tips[0]);
        if let Some(p) = first {
            stream.push_str(&format!("from :{p}\n"));
        }
        let other = (b + 1 + rng.below(2)) % 3;
        if let (Some(o), true) = (tips[other], rng.below(6) == 0) {
            if Some(o) != first {
                stream.push_str(&format!("merge :{o}\n"));
            }
        }
        stream.push_str(&format!("M 644 inline f\ndata 2\n{}\n\n", i % 10));
        tips[b] = Some(i);
        if i > 1 && rng.below(12) == 0 {
            tagged += 1;
            stream.push_str(&format!("reset refs/tags/v0.{tagged}\nfrom :{i}\n\n"));
        }
    }
    for (b, tip) in tips.iter().enumerate() {
        if let Some(t) = tip {
            stream.push_str(&format!("reset refs/heads/b{b}\nfrom :{t}\n\n"));
        }
    }
    let marks_file = repo.fast_import(&format!("history-{seed}.fi"), &stream, true);
    let marks = std::fs::read_to_string(&marks_file).unwrap();
    let mut commits = vec![String::new(); n];
    for line in marks.lines() {
        let (mark, hash) = line.split_once(' ').unwrap();
        let i: usize = mark[1..].parse().unwrap();
        commits[i - 1] = hash.to_string();
    }
    commits
}

/// `git describe --tags` at the checked-out HEAD, without the `v`; `None` when it finds
/// no tag.
fn git_describe(sb: &Sandbox, repo: &Repo<'_>) -> Option<String> {
    let out = sb
        .command("git")
        .current_dir(&repo.path)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(["describe", "--tags"])
        .output()
        .unwrap();
    out.status.success().then(|| {
        let s = String::from_utf8(out.stdout).unwrap();
        s.trim().trim_start_matches('v').to_string()
    })
}

/// What oci-stamp's describe found, in `git describe --tags` form: `TAG-N-gHASH` from the
/// development version (`NEXT-dev.N.gHASH`) and the tag `--explain` names, or `TAG` on a tag.
fn stamp_version(repo: &Repo<'_>) -> Option<String> {
    let out = repo
        .stamp([
            "collect",
            "--format",
            "json",
            "--explain",
            "--licenses",
            "MIT",
        ])
        .run();
    out.ok();
    let j = out.json();
    let key = "org.opencontainers.image.version";
    let version = j["annotations"][key].as_str()?.to_string();
    let source = j["sources"][key]["source"].as_str().unwrap_or_default();
    if let Some(tag) = source.strip_prefix("git tag ") {
        return Some(tag.trim_start_matches('v').to_string());
    }
    let tag = source
        .strip_prefix("git describe (tag ")
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or_else(|| panic!("version from {source}"));
    // `…dev.N.gHASH`: the distance and the abbreviated hash.
    let (rest, hash) = version.rsplit_once(".g").expect("a development version");
    let distance = rest.rsplit_once('.').expect("dev.N").1;
    Some(format!(
        "{}-{distance}-g{hash}",
        tag.trim_start_matches('v')
    ))
}

/// Checks every `step`-th commit as HEAD; returns how many had a version.
fn compare(sb: &Sandbox, repo: &Repo<'_>, commits: &[String], what: &str) -> usize {
    let mut described = 0;
    for (i, c) in commits.iter().enumerate().step_by(7) {
        repo.git(&["checkout", "-q", "--detach", c]);
        let want = git_describe(sb, repo);
        assert_eq!(
            stamp_version(repo),
            want,
            "{what}: HEAD at commit {}",
            i + 1
        );
        described += usize::from(want.is_some());
    }
    described
}

fn graphs(repo: &Repo<'_>) -> (bool, usize) {
    let info = repo.path.join(".git/objects/info");
    let single = info.join("commit-graph").exists();
    let layers = std::fs::read_to_string(info.join("commit-graphs/commit-graph-chain"))
        .map(|c| c.lines().count())
        .unwrap_or(0);
    (single, layers)
}

#[test]
fn describe_agrees_with_git_with_and_without_a_commit_graph() {
    for seed in [1, 2] {
        let sb = Sandbox::new();
        let repo = sb.repo("history");
        let commits = history(&repo, 240, seed);

        assert_eq!(graphs(&repo), (false, 0));
        let described = compare(&sb, &repo, &commits, "no commit-graph");
        assert!(described > 10, "the history has tags to find ({described})");

        // A graph of the older half only: newer commits through libgit2, older from it.
        let middle = &commits[commits.len() / 2];
        let sub = sb
            .command("sh")
            .args([
                "-c",
                "echo \"$0\" | git commit-graph write --stdin-commits",
                middle,
            ])
            .current_dir(&repo.path)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap();
        assert!(sub.success());
        assert_eq!(graphs(&repo), (true, 0));
        compare(&sb, &repo, &commits, "graph of the older half");

        repo.git(&["commit-graph", "write", "--reachable"]);
        compare(&sb, &repo, &commits, "single graph file");

        // A chain: the older half as the base layer, the rest on top.
        std::fs::remove_file(repo.path.join(".git/objects/info/commit-graph")).unwrap();
        let base = sb
            .command("sh")
            .args([
                "-c",
                "echo \"$0\" | git commit-graph write --stdin-commits --split",
                middle,
            ])
            .current_dir(&repo.path)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap();
        assert!(base.success());
        repo.git(&["commit-graph", "write", "--reachable", "--split=no-merge"]);
        assert_eq!(graphs(&repo), (false, 2));
        compare(&sb, &repo, &commits, "two-layer chain");

        // Few tags (at most 16): the walk looks up their commits' positions in the graph
        // instead of reading every walked commit's name; the answers must not change.
        let tags = repo.git(&["tag", "--list"]);
        let tags: Vec<&str> = tags.lines().collect();
        assert!(
            tags.len() > 16,
            "the many-tags case ran above ({})",
            tags.len()
        );
        for t in tags.iter().skip(6) {
            repo.git(&["tag", "-d", t]);
        }
        let described = compare(&sb, &repo, &commits, "two-layer chain, six tags");
        assert!(described > 10, "the six tags are found ({described})");
        repo.git(&["commit-graph", "write", "--reachable"]);
        compare(&sb, &repo, &commits, "single graph file, six tags");
    }
}
