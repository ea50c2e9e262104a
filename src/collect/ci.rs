//! CI environments: what the pipeline knows that a detached or shallow checkout does not —
//! the branch, the pull request, the repository's web URL, the run's URL.
//!
//! One table describes every provider; a field is read by trying its getters in order.
//! Values are cleaned the same way for all (`refs/heads/` and `origin/` stripped, `false`
//! and non-hash revisions dropped), and repository URLs go through [`super::remote`] so a
//! token in them never gets out.

use super::Env;

/// How one field is read from the environment.
#[derive(Debug, Clone, Copy)]
enum Get {
    /// The variable, when set and non-empty.
    Var(&'static str),
    /// The variable, only when `cond` equals `value`.
    When(&'static str, &'static str, &'static str),
    /// The variable with this prefix, which is removed (`refs/heads/main` → `main`).
    Prefixed(&'static str, &'static str),
    /// `{VAR}` placeholders filled in; all must be set.
    Template(&'static str),
}

struct Provider {
    name: &'static str,
    /// The variable that says this provider is running.
    detect: &'static str,
    revision: &'static [Get],
    branch: &'static [Get],
    tag: &'static [Get],
    pull_request: &'static [Get],
    repository: &'static [Get],
    run_url: &'static [Get],
}

use Get::{Prefixed, Template, Var, When};

const PROVIDERS: &[Provider] = &[
    Provider {
        name: "GitHub Actions",
        detect: "GITHUB_ACTIONS",
        revision: &[Var("GITHUB_SHA")],
        branch: &[
            Var("GITHUB_HEAD_REF"),
            When("GITHUB_REF_NAME", "GITHUB_REF_TYPE", "branch"),
        ],
        tag: &[When("GITHUB_REF_NAME", "GITHUB_REF_TYPE", "tag")],
        pull_request: &[Template("{GITHUB_REF}")],
        repository: &[Template("{GITHUB_SERVER_URL}/{GITHUB_REPOSITORY}")],
        run_url: &[Template(
            "{GITHUB_SERVER_URL}/{GITHUB_REPOSITORY}/actions/runs/{GITHUB_RUN_ID}",
        )],
    },
    Provider {
        name: "GitLab CI",
        detect: "GITLAB_CI",
        revision: &[Var("CI_COMMIT_SHA")],
        branch: &[
            Var("CI_COMMIT_BRANCH"),
            Var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
        ],
        tag: &[Var("CI_COMMIT_TAG")],
        pull_request: &[Var("CI_MERGE_REQUEST_IID")],
        repository: &[Var("CI_PROJECT_URL")],
        run_url: &[Var("CI_PIPELINE_URL"), Var("CI_JOB_URL")],
    },
    Provider {
        name: "Jenkins",
        detect: "JENKINS_URL",
        revision: &[Var("GIT_COMMIT")],
        branch: &[
            Var("CHANGE_BRANCH"),
            Var("BRANCH_NAME"),
            Var("GIT_LOCAL_BRANCH"),
            Var("GIT_BRANCH"),
        ],
        tag: &[Var("TAG_NAME")],
        pull_request: &[Var("CHANGE_ID")],
        repository: &[Var("GIT_URL")],
        run_url: &[Var("BUILD_URL")],
    },
    Provider {
        name: "CircleCI",
        detect: "CIRCLECI",
        revision: &[Var("CIRCLE_SHA1")],
        branch: &[Var("CIRCLE_BRANCH")],
        tag: &[Var("CIRCLE_TAG")],
        pull_request: &[Var("CIRCLE_PR_NUMBER"), Var("CIRCLE_PULL_REQUEST")],
        repository: &[Var("CIRCLE_REPOSITORY_URL")],
        run_url: &[Var("CIRCLE_BUILD_URL")],
    },
    Provider {
        name: "Buildkite",
        detect: "BUILDKITE",
        revision: &[Var("BUILDKITE_COMMIT")],
        branch: &[Var("BUILDKITE_BRANCH")],
        tag: &[Var("BUILDKITE_TAG")],
        pull_request: &[Var("BUILDKITE_PULL_REQUEST")],
        repository: &[Var("BUILDKITE_REPO")],
        run_url: &[Var("BUILDKITE_BUILD_URL")],
    },
    Provider {
        name: "Azure Pipelines",
        detect: "TF_BUILD",
        revision: &[Var("BUILD_SOURCEVERSION")],
        branch: &[
            Prefixed("SYSTEM_PULLREQUEST_SOURCEBRANCH", "refs/heads/"),
            Prefixed("BUILD_SOURCEBRANCH", "refs/heads/"),
        ],
        tag: &[Prefixed("BUILD_SOURCEBRANCH", "refs/tags/")],
        pull_request: &[
            Var("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER"),
            Var("SYSTEM_PULLREQUEST_PULLREQUESTID"),
        ],
        repository: &[Var("BUILD_REPOSITORY_URI")],
        run_url: &[Template(
            "{SYSTEM_COLLECTIONURI}{SYSTEM_TEAMPROJECT}/_build/results?buildId={BUILD_BUILDID}",
        )],
    },
    Provider {
        name: "Bitbucket Pipelines",
        detect: "BITBUCKET_BUILD_NUMBER",
        revision: &[Var("BITBUCKET_COMMIT")],
        branch: &[Var("BITBUCKET_BRANCH")],
        tag: &[Var("BITBUCKET_TAG")],
        pull_request: &[Var("BITBUCKET_PR_ID")],
        repository: &[Var("BITBUCKET_GIT_HTTP_ORIGIN")],
        run_url: &[Template(
            "{BITBUCKET_GIT_HTTP_ORIGIN}/pipelines/results/{BITBUCKET_BUILD_NUMBER}",
        )],
    },
    Provider {
        name: "Travis CI",
        detect: "TRAVIS",
        revision: &[Var("TRAVIS_COMMIT")],
        // On a tag build TRAVIS_BRANCH holds the tag, so it is a branch only without one.
        branch: &[
            Var("TRAVIS_PULL_REQUEST_BRANCH"),
            When("TRAVIS_BRANCH", "TRAVIS_TAG", ""),
        ],
        tag: &[Var("TRAVIS_TAG")],
        pull_request: &[Var("TRAVIS_PULL_REQUEST")],
        repository: &[Template("https://github.com/{TRAVIS_REPO_SLUG}")],
        run_url: &[Var("TRAVIS_BUILD_WEB_URL")],
    },
];

/// A value read from the CI environment, with the variable it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CiValue {
    pub(crate) value: String,
    pub(crate) var: &'static str,
}

/// What the running CI provider says about the build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CiFacts {
    pub(crate) provider: Option<&'static str>,
    pub(crate) revision: Option<CiValue>,
    pub(crate) branch: Option<CiValue>,
    pub(crate) tag: Option<CiValue>,
    pub(crate) pull_request: Option<CiValue>,
    /// Already normalised and free of credentials.
    pub(crate) repository: Option<CiValue>,
    pub(crate) run_url: Option<CiValue>,
}

fn var_name(get: &Get) -> &'static str {
    match get {
        Var(v) | When(v, _, _) | Prefixed(v, _) => v,
        Template(t) => t
            .split('{')
            .nth(1)
            .and_then(|s| s.split('}').next())
            .unwrap_or("CI"),
    }
}

fn read(env: &Env, gets: &[Get]) -> Option<CiValue> {
    gets.iter().find_map(|get| {
        let value = match *get {
            Var(v) => env.get(v).map(str::to_string),
            When(v, cond, want) => {
                if env.get(cond).unwrap_or("") == want {
                    env.get(v).map(str::to_string)
                } else {
                    None
                }
            }
            Prefixed(v, prefix) => env
                .get(v)
                .and_then(|s| s.strip_prefix(prefix))
                .map(str::to_string),
            Template(t) => fill(env, t),
        }?;
        let value = value.trim().to_string();
        (!value.is_empty()).then(|| CiValue {
            value,
            var: var_name(get),
        })
    })
}

fn fill(env: &Env, template: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let (name, tail) = after.split_once('}')?;
        out.push_str(env.get(name)?);
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

fn is_full_hash(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A branch as CI variables spell it: `refs/heads/x`, `origin/x`, `refs/remotes/origin/x`.
fn clean_branch(b: &str) -> String {
    let b = b.strip_prefix("refs/heads/").unwrap_or(b);
    let b = b.strip_prefix("refs/remotes/").unwrap_or(b);
    b.strip_prefix("origin/").unwrap_or(b).to_string()
}

/// `refs/pull/42/merge`, `42`, `https://github.com/o/r/pull/42` → `42`; `false` → none.
fn clean_pull_request(p: &str) -> Option<String> {
    if let Some(rest) = p.strip_prefix("refs/pull/") {
        return rest.split('/').next().map(str::to_string);
    }
    let last = p.trim_end_matches('/').rsplit('/').next().unwrap_or(p);
    (last.bytes().all(|b| b.is_ascii_digit()) && !last.is_empty()).then(|| last.to_string())
}

/// Reads the first provider whose marker variable is set.
pub(crate) fn detect(env: &Env) -> CiFacts {
    let Some(p) = PROVIDERS.iter().find(|p| env.get(p.detect).is_some()) else {
        return CiFacts::default();
    };
    let revision = read(env, p.revision)
        .filter(|v| is_full_hash(&v.value))
        .map(|v| CiValue {
            value: v.value.to_ascii_lowercase(),
            ..v
        });
    let branch = read(env, p.branch)
        .map(|v| CiValue {
            value: clean_branch(&v.value),
            ..v
        })
        .filter(|v| !v.value.is_empty() && v.value != "HEAD");
    let pull_request = read(env, p.pull_request)
        .and_then(|v| clean_pull_request(&v.value).map(|value| CiValue { value, ..v }));
    let repository = read(env, p.repository)
        .and_then(|v| super::remote::normalise(&v.value).map(|value| CiValue { value, ..v }));
    let run_url = read(env, p.run_url).and_then(|v| {
        crate::annotations::url::strip_credentials(&v.value).map(|value| CiValue { value, ..v })
    });
    CiFacts {
        provider: Some(p.name),
        revision,
        branch,
        tag: read(env, p.tag),
        pull_request,
        repository,
        run_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn github_pull_request() {
        let f = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", SHA),
            ("GITHUB_HEAD_REF", "feature/x"),
            ("GITHUB_REF", "refs/pull/42/merge"),
            ("GITHUB_REF_NAME", "42/merge"),
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "99"),
        ]));
        assert_eq!(f.provider, Some("GitHub Actions"));
        assert_eq!(f.branch.unwrap().value, "feature/x");
        assert_eq!(f.pull_request.unwrap().value, "42");
        assert_eq!(f.repository.unwrap().value, "https://github.com/o/r");
        assert_eq!(
            f.run_url.unwrap().value,
            "https://github.com/o/r/actions/runs/99"
        );
        assert_eq!(f.tag, None);
    }

    #[test]
    fn github_tag_push() {
        let f = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/tags/v1.2.3"),
            ("GITHUB_REF_NAME", "v1.2.3"),
            ("GITHUB_REF_TYPE", "tag"),
            ("GITHUB_HEAD_REF", ""),
        ]));
        assert_eq!(f.branch, None);
        assert_eq!(f.tag.unwrap().value, "v1.2.3");
        assert_eq!(f.pull_request, None);
    }

    #[test]
    fn jenkins_branch_loses_remote_prefix() {
        let f = detect(&env(&[
            ("JENKINS_URL", "http://j/"),
            ("GIT_BRANCH", "origin/main"),
            ("GIT_URL", "https://u:p@git.example.com/o/r.git"),
        ]));
        assert_eq!(f.branch.unwrap().value, "main");
        assert_eq!(f.repository.unwrap().value, "https://git.example.com/o/r");
    }

    #[test]
    fn buildkite_head_and_false_are_not_values() {
        let f = detect(&env(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_COMMIT", "HEAD"),
            ("BUILDKITE_PULL_REQUEST", "false"),
            ("BUILDKITE_BRANCH", "main"),
        ]));
        assert_eq!(f.revision, None);
        assert_eq!(f.pull_request, None);
        assert_eq!(f.branch.unwrap().value, "main");
    }

    #[test]
    fn azure_branch_and_tag() {
        let b = detect(&env(&[
            ("TF_BUILD", "True"),
            ("BUILD_SOURCEBRANCH", "refs/heads/release/1"),
        ]));
        assert_eq!(b.branch.unwrap().value, "release/1");
        let t = detect(&env(&[
            ("TF_BUILD", "True"),
            ("BUILD_SOURCEBRANCH", "refs/tags/v2"),
        ]));
        assert_eq!(t.branch, None);
        assert_eq!(t.tag.unwrap().value, "v2");
    }

    #[test]
    fn bitbucket_tag_build_has_no_branch() {
        let f = detect(&env(&[
            ("BITBUCKET_BUILD_NUMBER", "7"),
            ("BITBUCKET_TAG", "v1"),
            ("BITBUCKET_COMMIT", SHA),
        ]));
        assert_eq!(f.branch, None);
        assert_eq!(f.tag.unwrap().value, "v1");
        assert_eq!(f.revision.unwrap().value, SHA);
    }

    #[test]
    fn travis_tag_build_branch_is_the_tag() {
        let f = detect(&env(&[
            ("TRAVIS", "true"),
            ("TRAVIS_BRANCH", "v1.0"),
            ("TRAVIS_TAG", "v1.0"),
            ("TRAVIS_PULL_REQUEST", "false"),
        ]));
        assert_eq!(f.branch, None);
        assert_eq!(f.pull_request, None);
        let f = detect(&env(&[
            ("TRAVIS", "true"),
            ("TRAVIS_BRANCH", "main"),
            ("TRAVIS_TAG", ""),
        ]));
        assert_eq!(f.branch.unwrap().value, "main");
    }

    #[test]
    fn gitlab_and_circle() {
        let g = detect(&env(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_PROJECT_URL", "https://gitlab.com/g/p"),
            (
                "CI_REPOSITORY_URL",
                "https://gitlab-ci-token:SECRET@gitlab.com/g/p.git",
            ),
        ]));
        assert_eq!(g.repository.unwrap().value, "https://gitlab.com/g/p");
        let c = detect(&env(&[
            ("CIRCLECI", "true"),
            ("CIRCLE_PULL_REQUEST", "https://github.com/o/r/pull/17"),
            ("CIRCLE_REPOSITORY_URL", "git@github.com:o/r.git"),
        ]));
        assert_eq!(c.pull_request.unwrap().value, "17");
        assert_eq!(c.repository.unwrap().value, "https://github.com/o/r");
    }

    #[test]
    fn no_provider() {
        assert_eq!(detect(&env(&[("CI", "true")])), CiFacts::default());
    }
}
