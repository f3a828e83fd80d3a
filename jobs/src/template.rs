//! SQL placeholders: `{{ name }}` replaced by the run's values before a job's SQL is planned.
//!
//! Invariant: an unknown placeholder is an error naming it, never left in the SQL or replaced
//! by an empty string.

use chrono::NaiveDate;

/// The values a job's SQL may refer to.
#[derive(Debug, Clone)]
pub struct Vars {
    /// First day of the run's window (inclusive).
    pub from: NaiveDate,
    /// Last day of the run's window (inclusive).
    pub to: NaiveDate,
    /// The day "now" is for the job (RFM recency, lifecycle windows).
    pub as_of: NaiveDate,
    pub run_id: String,
    /// False on a rebuild (first run, `--full-refresh`).
    pub is_incremental: bool,
    /// The table `{{ this }}` names: the output, or the candidate output in data tests.
    pub this: String,
}

/// Whether the SQL refers to `{{ as_of }}` (so its result moves with the clock).
pub fn uses_as_of(sql: &str) -> bool {
    placeholders(sql).any(|name| name == "as_of")
}

fn placeholders(sql: &str) -> impl Iterator<Item = &str> {
    sql.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(name, _)| name.trim()))
}

/// Replaces every placeholder; dates become `DATE 'YYYY-MM-DD'` literals.
pub fn render(sql: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "unclosed `{{` in SQL".to_owned())?;
        let name = after[..end].trim();
        let date = |d: NaiveDate| format!("DATE '{}'", d.format("%Y-%m-%d"));
        let value = match name {
            "from" => date(vars.from),
            "to" => date(vars.to),
            "as_of" => date(vars.as_of),
            "run_id" => format!("'{}'", vars.run_id),
            "is_incremental" => vars.is_incremental.to_string(),
            "this" => vars.this.clone(),
            other => return Err(format!("unknown placeholder `{{{{ {other} }}}}`")),
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        Vars {
            from: d(1, 2),
            to: d(3, 4),
            as_of: d(11, 1),
            run_id: "r1".into(),
            is_incremental: true,
            this: "gold.x".into(),
        }
    }

    #[test]
    fn renders_placeholders() {
        let sql = "SELECT * FROM {{this}} WHERE d BETWEEN {{ from }} AND {{ to }} AND {{ is_incremental }}";
        assert_eq!(
            render(sql, &vars()).unwrap(),
            "SELECT * FROM gold.x WHERE d BETWEEN DATE '2026-01-02' AND DATE '2026-03-04' AND true"
        );
        assert!(uses_as_of("x {{ as_of }}"));
        assert!(!uses_as_of("x {{ from }}"));
    }

    #[test]
    fn unknown_placeholders_are_errors() {
        let err = render("SELECT {{ nope }}", &vars()).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        assert!(render("SELECT {{ from", &vars()).is_err());
    }
}
