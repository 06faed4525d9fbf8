//! `segments eval`: evaluate one rule on a tenant folder and print who matches.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::eval::{EvalError, Evaluation, NoSegments, NodeCount, evaluate};
use crate::rules::{Rule, Warning};
use crate::snapshot::Snapshot;
use crate::tenant::open_snapshot;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The tenant folder.
    #[arg(long, default_value = "data/sample")]
    pub data: PathBuf,
    /// The rule: a JSON file's path, `-` for standard input, or the JSON itself.
    #[arg(long)]
    pub rule: String,
    /// Evaluate as of this instant (RFC 3339, or YYYY-MM-DD for midnight UTC) instead of now.
    #[arg(long, value_parser = super::parse_instant)]
    pub as_of: Option<DateTime<Utc>>,
    /// The tenant's IANA time zone; overrides tenant.json.
    #[arg(long)]
    pub tz: Option<String>,
    /// How many member ids to print; 0 prints them all.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// `text` for people, `json` for programs (one object on one line).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The JSON form of an evaluation.
#[derive(Debug, Serialize)]
struct Output<'a> {
    count: u64,
    members: Vec<i64>,
    nodes: &'a [NodeCount],
    warnings: &'a [Warning],
}

/// Runs the command: 0 on success, 2 for a bad rule or bad data.
pub async fn run(args: EvalArgs) -> ExitCode {
    match eval(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => super::fail(&message),
    }
}

async fn eval(args: &EvalArgs) -> Result<(), String> {
    let rule_text = read_rule(&args.rule)?;
    let snapshot = open_snapshot(&args.data, args.tz.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let rule = Rule::parse(&rule_text, &snapshot.facts.custom_fields)
        .map_err(|e| format!("bad rule: {e}"))?;
    let as_of = args.as_of.unwrap_or_else(Utc::now);
    let evaluation = evaluate(&rule, &snapshot, as_of, &NoSegments).map_err(|e| match e {
        EvalError::UnknownSegment { path, id } => format!(
            "{path}: the rule reads segment {id}, and `segments eval` reads only the tenant's \
             facts, not the segment catalog; preview the rule on a running server instead \
             (POST /v1/segments/preview)"
        ),
        other => other.to_string(),
    })?;
    let text = match args.format {
        Format::Json => render_json(&snapshot, &evaluation, args.limit),
        Format::Text => render_text(&snapshot, &evaluation, args.limit),
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| e.to_string())
}

/// A rule argument is a file when one exists at that path, standard input when `-`, and
/// otherwise the JSON text itself. A byte-order mark is dropped.
fn read_rule(argument: &str) -> Result<String, String> {
    let text = if argument == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| format!("cannot read the rule from stdin: {e}"))?
    } else if std::path::Path::new(argument).is_file() {
        std::fs::read_to_string(argument)
            .map_err(|e| format!("cannot read rule file {argument}: {e}"))?
    } else if looks_like_json(argument) {
        argument.to_string()
    } else {
        return Err(format!(
            "{argument:?} is neither rule JSON nor a file: no file exists at that path"
        ));
    };
    Ok(text.trim_start_matches('\u{feff}').to_string())
}

fn looks_like_json(argument: &str) -> bool {
    let first = argument.trim_start().chars().next();
    matches!(first, Some('{' | '[' | '"')) || ["null", "true", "false"].contains(&argument.trim())
}

fn member_ids(snapshot: &Snapshot, evaluation: &Evaluation, limit: usize) -> Vec<i64> {
    let take = if limit == 0 { usize::MAX } else { limit };
    evaluation
        .members
        .iter()
        .take(take)
        .map(|pos| snapshot.index.client_id(pos))
        .collect()
}

fn render_json(snapshot: &Snapshot, evaluation: &Evaluation, limit: usize) -> String {
    let output = Output {
        count: evaluation.members.len(),
        members: member_ids(snapshot, evaluation, limit),
        nodes: &evaluation.nodes,
        warnings: &evaluation.warnings,
    };
    serde_json::to_string(&output).expect("plain data serializes") + "\n"
}

fn render_text(snapshot: &Snapshot, evaluation: &Evaluation, limit: usize) -> String {
    let mut out = format!("count: {}\n", evaluation.members.len());
    let width = evaluation
        .nodes
        .iter()
        .map(|n| n.path.len())
        .max()
        .unwrap_or(1);
    out.push_str("nodes:\n");
    for node in &evaluation.nodes {
        out.push_str(&format!("  {:<width$}  {}\n", node.path, node.count));
    }
    for warning in &evaluation.warnings {
        out.push_str(&format!("warning: {}: {}\n", warning.path, warning.message));
    }
    let ids = member_ids(snapshot, evaluation, limit);
    out.push_str(&format!(
        "members ({} of {}):\n",
        ids.len(),
        evaluation.members.len()
    ));
    for id in ids {
        out.push_str(&format!("  {id}\n"));
    }
    out.push_str(&format!(
        "elapsed: {:.3} ms\n",
        evaluation.elapsed.as_secs_f64() * 1e3
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(rule: &str) -> EvalArgs {
        EvalArgs {
            data: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample")),
            rule: rule.to_string(),
            as_of: None,
            tz: None,
            limit: 20,
            format: Format::Json,
        }
    }

    #[tokio::test]
    async fn a_rule_reading_a_segment_is_told_that_eval_has_no_catalog() {
        let rule = r#"{"all": [{"field": "country", "op": "is", "value": "DE"},
                                {"field": "segment", "op": "is", "value": 3}]}"#;
        let error = eval(&args(rule)).await.unwrap_err();
        assert_eq!(
            error,
            "$.all[1].value: the rule reads segment 3, and `segments eval` reads only the tenant's \
             facts, not the segment catalog; preview the rule on a running server instead \
             (POST /v1/segments/preview)"
        );
    }
}
