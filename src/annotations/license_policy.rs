//! The policy's license rule, on the parsed SPDX expression as cargo-deny evaluates its
//! allow list: each license and exception of a term must be allowed and not denied, and an
//! `OR` is satisfied when one side is.

use spdx::{AdditionItem, Expression, LicenseItem, LicenseReq};

use super::Diagnostic;

fn license_name(item: &LicenseItem) -> String {
    match item {
        LicenseItem::Spdx { id, .. } => id.name.to_string(),
        LicenseItem::Other(r) => r.to_string(),
    }
}

fn addition_name(item: &AdditionItem) -> String {
    match item {
        AdditionItem::Spdx(id) => id.name.to_string(),
        AdditionItem::Other(r) => r.to_string(),
    }
}

/// The names a term is made of: its license and, after `WITH`, its exception.
fn names(req: &LicenseReq) -> Vec<String> {
    let mut out = vec![license_name(&req.license)];
    out.extend(req.addition.as_ref().map(addition_name));
    out
}

/// Checks the `licenses` value against the policy: `allow` (`None`: no allow list, so every
/// license not denied is allowed) and `deny`. One diagnostic per offending license.
pub(crate) fn check(
    key: &str,
    value: &str,
    allow: Option<&[String]>,
    deny: &[String],
    policy: &str,
) -> Vec<Diagnostic> {
    // An expression that does not parse is the value rules' finding (`invalid-license`).
    let Ok(expr) = Expression::parse(value) else {
        return Vec::new();
    };
    let denied = |n: &String| deny.iter().any(|d| d == n);
    let allowed = |n: &String| allow.is_none_or(|a| a.iter().any(|x| x == n));
    let term_ok = |req: &LicenseReq| names(req).iter().all(|n| allowed(n) && !denied(n));
    let Err(failures) = expr.evaluate_with_failures(term_ok) else {
        return Vec::new();
    };
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut seen = Vec::new();
    for f in failures {
        for n in names(&f.req) {
            if seen.contains(&n) || (allowed(&n) && !denied(&n)) {
                continue;
            }
            seen.push(n.clone());
            out.push(if denied(&n) {
                Diagnostic::error(
                    "license-denied",
                    key,
                    format!("`{n}` in `{value}` is denied by the policy ({policy})"),
                )
                .hint("change the license, or the policy's [licenses] deny list")
            } else {
                Diagnostic::error(
                    "license-not-allowed",
                    key,
                    format!("`{n}` in `{value}` is not in the policy's allow list ({policy})"),
                )
                .hint("add it to [licenses] allow, or change the license")
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(value: &str, allow: Option<&[&str]>, deny: &[&str]) -> Vec<(String, &'static str)> {
        let allow: Option<Vec<String>> = allow.map(|a| a.iter().map(|s| s.to_string()).collect());
        let deny: Vec<String> = deny.iter().map(|s| s.to_string()).collect();
        check("k", value, allow.as_deref(), &deny, "p")
            .into_iter()
            .map(|d| {
                let name = d.message.split('`').nth(1).unwrap_or_default().to_string();
                (name, d.code)
            })
            .collect()
    }

    #[test]
    fn or_is_satisfied_by_one_side() {
        let allow = Some(&["MIT"][..]);
        assert!(codes("MIT OR GPL-3.0-only", allow, &[]).is_empty());
        assert!(codes("MIT OR GPL-3.0-only", allow, &["GPL-3.0-only"]).is_empty());
        assert_eq!(
            codes("GPL-3.0-only OR LGPL-2.1-only", allow, &["GPL-3.0-only"]),
            [
                ("GPL-3.0-only".to_string(), "license-denied"),
                ("LGPL-2.1-only".to_string(), "license-not-allowed")
            ]
        );
    }

    #[test]
    fn and_needs_every_license() {
        let allow = Some(&["MIT", "Apache-2.0"][..]);
        assert!(codes("MIT AND Apache-2.0", allow, &[]).is_empty());
        assert_eq!(
            codes("MIT AND BSD-3-Clause", allow, &[]),
            [("BSD-3-Clause".to_string(), "license-not-allowed")]
        );
        assert_eq!(
            codes("MIT AND GPL-2.0-only", None, &["GPL-2.0-only"]),
            [("GPL-2.0-only".to_string(), "license-denied")]
        );
    }

    #[test]
    fn with_needs_the_exception_allowed_too() {
        let value = "Apache-2.0 WITH LLVM-exception";
        assert_eq!(
            codes(value, Some(&["Apache-2.0"]), &[]),
            [("LLVM-exception".to_string(), "license-not-allowed")]
        );
        assert!(codes(value, Some(&["Apache-2.0", "LLVM-exception"]), &[]).is_empty());
        assert_eq!(
            codes(value, None, &["LLVM-exception"]),
            [("LLVM-exception".to_string(), "license-denied")]
        );
        assert!(codes("LicenseRef-Acme", Some(&["LicenseRef-Acme"]), &[]).is_empty());
    }
}
