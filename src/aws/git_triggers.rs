//! Whether a pipeline starts on a push to a branch through a connection
//! source action: its V2 `triggers` evaluated by their meaning, or, when no
//! trigger names the action, the action's own change detection.
//!
//! What AWS documents (CodePipeline User Guide, "Automate starting
//! pipelines using triggers and filtering" and "Working with glob patterns
//! in syntax"):
//! - a trigger without filters starts the pipeline on a push to the
//!   action's `BranchName`;
//! - a push filter on branches starts it on a push to a branch its includes
//!   match and its excludes do not (excludes win; `BranchName` is then not
//!   used); a push filter on tags only fires on tag pushes;
//! - a pull request filter fires on pull request events, never on a push;
//! - with no trigger for the action, the pipeline starts on a push to
//!   `BranchName` unless `DetectChanges` is `false`;
//! - patterns are globs: `*` any characters but `/`, `**` any characters,
//!   `?` one character, `[...]` a class (`[!...]` negated), `{a,b}` either.
//!
//! File path filters narrow which pushes to a branch start the pipeline;
//! they do not make it deaf to the branch, so they are not evaluated here.

use globset::{GlobBuilder, GlobMatcher};

use crate::model::{ConnectionSourceRef, GitPatterns, PipelineTrigger, PushFilter};

/// The provider type of connection triggers.
pub const PROVIDER: &str = "CodeStarSourceConnection";

/// Whether a glob pattern of a trigger filter matches `name`. A pattern
/// that is not a valid glob matches only itself.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    compile(pattern).map_or(pattern == name, |m| m.is_match(name))
}

fn compile(pattern: &str) -> Option<GlobMatcher> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// Whether a name passes include and exclude patterns: it matches an
/// include (any name when there is none) and no exclude.
pub fn passes(p: &GitPatterns, name: &str) -> bool {
    let included = p.includes.is_empty() || p.includes.iter().any(|i| glob_matches(i, name));
    included && !p.excludes.iter().any(|e| glob_matches(e, name))
}

/// Whether a push filter fires on a push to `branch`; `default_branch` is
/// the action's `BranchName`, used by a filter that names no branch or tag.
fn push_filter_fires(f: &PushFilter, branch: &str, default_branch: Option<&str>) -> bool {
    match (&f.branches, &f.tags) {
        (Some(b), _) => passes(b, branch),
        // tags only: fires on tag pushes, not on a branch push
        (None, Some(_)) => false,
        (None, None) => default_branch == Some(branch),
    }
}

/// The triggers of a pipeline that belong to a source action.
pub fn triggers_of<'a>(
    triggers: &'a [PipelineTrigger],
    action: &'a str,
) -> impl Iterator<Item = &'a PipelineTrigger> + 'a {
    triggers
        .iter()
        .filter(move |t| t.provider_type == PROVIDER && t.source_action == action)
}

/// Whether a push to `branch` starts the pipeline through the connection
/// source action `source`.
pub fn push_fires(
    triggers: &[PipelineTrigger],
    source: &ConnectionSourceRef,
    branch: &str,
) -> bool {
    let default_branch = source.branch.as_deref();
    let mut own = triggers_of(triggers, &source.action).peekable();
    if own.peek().is_none() {
        return source.detect_changes != Some(false) && default_branch == Some(branch);
    }
    own.any(|t| {
        if t.push.is_empty() && t.pull_request.is_empty() {
            // a trigger without filters: pushes to the action's branch
            return default_branch == Some(branch);
        }
        t.push
            .iter()
            .any(|f| push_filter_fires(f, branch, default_branch))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PullRequestFilter;

    fn pats(includes: &[&str], excludes: &[&str]) -> GitPatterns {
        GitPatterns {
            includes: includes.iter().map(|s| s.to_string()).collect(),
            excludes: excludes.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn source(branch: Option<&str>, detect: Option<bool>) -> ConnectionSourceRef {
        ConnectionSourceRef {
            stage: "Source".into(),
            action: "Checkout".into(),
            connection_arn: "arn:aws:codeconnections:us-east-1:123456789012:connection/x".into(),
            repository: Some("acme/app".into()),
            branch: branch.map(str::to_string),
            detect_changes: detect,
        }
    }

    fn trigger(push: Vec<PushFilter>, pull_request: Vec<PullRequestFilter>) -> PipelineTrigger {
        PipelineTrigger {
            provider_type: PROVIDER.into(),
            source_action: "Checkout".into(),
            push,
            pull_request,
        }
    }

    fn branches(includes: &[&str], excludes: &[&str]) -> PushFilter {
        PushFilter {
            branches: Some(pats(includes, excludes)),
            ..PushFilter::default()
        }
    }

    #[test]
    fn globs_follow_the_documented_syntax() {
        assert!(glob_matches("main", "main"));
        assert!(!glob_matches("main", "main2"));
        assert!(glob_matches("release/*", "release/1.0"));
        assert!(!glob_matches("release/*", "release/1.0/hotfix"));
        assert!(glob_matches("release/**", "release/1.0/hotfix"));
        assert!(!glob_matches("*", "feature/x"), "* does not cross /");
        assert!(glob_matches("**", "feature/x"));
        assert!(glob_matches("v?", "v1"));
        assert!(!glob_matches("v?", "v10"));
        assert!(glob_matches("v[0-9]", "v7"));
        assert!(!glob_matches("v[!0-9]", "v7"));
        assert!(glob_matches("{main,prod}", "prod"));
        assert!(!glob_matches("{main,prod}", "dev"));
        // an invalid glob matches only itself
        assert!(glob_matches("bad[", "bad["));
        assert!(!glob_matches("bad[", "bad"));
    }

    #[test]
    fn excludes_win_over_includes() {
        assert!(passes(&pats(&["release/**"], &[]), "release/2"));
        assert!(!passes(
            &pats(&["release/**"], &["release/old*"]),
            "release/old-1"
        ));
        assert!(passes(&pats(&[], &["dev"]), "main"), "excludes only");
        assert!(!passes(&pats(&[], &["dev"]), "dev"));
    }

    #[test]
    fn no_trigger_follows_detect_changes() {
        let on = source(Some("main"), None);
        assert!(push_fires(&[], &on, "main"));
        assert!(
            !push_fires(&[], &on, "dev"),
            "BranchName is the only branch"
        );
        let off = source(Some("main"), Some(false));
        assert!(!push_fires(&[], &off, "main"));
        assert!(push_fires(&[], &source(Some("main"), Some(true)), "main"));
    }

    #[test]
    fn a_trigger_without_filters_fires_on_the_action_branch() {
        let t = trigger(vec![], vec![]);
        let s = source(Some("main"), Some(true));
        assert!(push_fires(std::slice::from_ref(&t), &s, "main"));
        assert!(!push_fires(std::slice::from_ref(&t), &s, "prod"));
    }

    #[test]
    fn branch_filters_replace_the_branch_name() {
        // BranchName is main, but the filter names release branches
        let s = source(Some("main"), Some(false));
        let t = trigger(vec![branches(&["release/*"], &[])], vec![]);
        assert!(push_fires(std::slice::from_ref(&t), &s, "release/1.2"));
        assert!(!push_fires(std::slice::from_ref(&t), &s, "main"));
        let t = trigger(vec![branches(&["**"], &["main"])], vec![]);
        assert!(!push_fires(std::slice::from_ref(&t), &s, "main"));
        assert!(push_fires(std::slice::from_ref(&t), &s, "feature/a"));
    }

    #[test]
    fn tag_only_triggers_do_not_fire_on_a_branch_push() {
        let s = source(Some("main"), Some(false));
        let t = trigger(
            vec![PushFilter {
                tags: Some(pats(&["v*"], &[])),
                ..PushFilter::default()
            }],
            vec![],
        );
        assert!(!push_fires(std::slice::from_ref(&t), &s, "main"));
    }

    #[test]
    fn pull_request_triggers_do_not_fire_on_a_push() {
        let s = source(Some("main"), Some(true));
        let t = trigger(
            vec![],
            vec![PullRequestFilter {
                events: vec!["OPEN".into()],
                branches: Some(pats(&["main"], &[])),
                file_paths: None,
            }],
        );
        assert!(!push_fires(std::slice::from_ref(&t), &s, "main"));
    }

    #[test]
    fn file_paths_do_not_make_a_branch_filter_deaf() {
        let s = source(Some("main"), Some(false));
        let t = trigger(
            vec![PushFilter {
                branches: Some(pats(&["main"], &[])),
                file_paths: Some(pats(&["src/**"], &[])),
                tags: None,
            }],
            vec![],
        );
        assert!(push_fires(std::slice::from_ref(&t), &s, "main"));
    }

    #[test]
    fn triggers_of_other_actions_do_not_count() {
        let s = source(Some("main"), Some(false));
        let mut t = trigger(vec![branches(&["main"], &[])], vec![]);
        t.source_action = "Other".into();
        assert!(!push_fires(std::slice::from_ref(&t), &s, "main"));
        // and leave this action's own change detection in place
        let s = source(Some("main"), None);
        assert!(push_fires(std::slice::from_ref(&t), &s, "main"));
    }
}
