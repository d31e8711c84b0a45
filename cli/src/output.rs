//! Printing for people: aligned tables, short durations, people by name. `--output json`
//! prints the API's JSON instead, untouched, one document per line.

use serde_json::Value;

/// The API's answer as one line of JSON.
pub fn json_line(value: &Value) -> String {
    serde_json::to_string(value).expect("JSON values serialize")
}

/// A table with a header row; columns as wide as their widest cell.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.len() == 1
    }

    /// The table, each line indented by `indent` and ending with a newline.
    pub fn render(&self, indent: &str) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = indent.to_string();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `3d 4h`, `2h 13m`, `5m 20s`, `40s`: the two largest units, enough to weigh a data loss.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// The person behind a principal: a role session's name or an IAM user's, as the API's
/// rules compare them (`…:assumed-role/lifeboat-support/sam` is `sam`).
pub fn person(principal: &str) -> &str {
    principal.rsplit('/').next().unwrap_or(principal)
}

/// A string field of `value`, or `-`.
pub fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut t = Table::new(&["ID", "STATUS", "BY"]);
        t.row(vec!["rr-1".into(), "submitted".into(), "sam".into()]);
        t.row(vec!["rr-22222".into(), "failed".into(), "erin".into()]);
        assert_eq!(
            t.render("  "),
            "  ID        STATUS     BY\n  rr-1      submitted  sam\n  rr-22222  failed     erin\n"
        );
    }

    #[test]
    fn durations_keep_their_two_largest_units() {
        assert_eq!(duration(40), "40s");
        assert_eq!(duration(320), "5m 20s");
        assert_eq!(duration(7_980), "2h 13m");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 59), "3d 4h");
        assert_eq!(duration(-5), "0s");
    }

    #[test]
    fn a_person_is_the_session_name() {
        assert_eq!(person("arn:aws:sts::1:assumed-role/lifeboat-support/sam"), "sam");
        assert_eq!(person("arn:aws:iam::1:user/erin"), "erin");
    }
}
