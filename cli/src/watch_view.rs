//! The two ways a watch shows a restore: [`Bars`] for a person at a terminal (a progress bar
//! per resource, the audit trail and timeline printed above them as they grow), and
//! [`JsonLines`] for scripts and pipes (one JSON object per change on standard output).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::output::json_line;
use crate::progress::{self, Bar};
use crate::request_view::{history_entry, outcome, timeline_entry};
use crate::watch::{Change, View};

pub struct JsonLines;

impl View for JsonLines {
    fn show(&mut self, changes: &[Change], _request: &Value) {
        for change in changes {
            println!(
                "{}",
                json_line(&serde_json::to_value(change).expect("changes serialize"))
            );
        }
    }

    fn note(&mut self, text: &str) {
        eprintln!("lifeboat: {text}");
    }

    fn end(&mut self, end: &Change, request: &Value) {
        self.show(std::slice::from_ref(end), request);
    }

    /// The `awaiting_confirmation` change already said why the watch stops.
    fn pause(&mut self, _request: &Value) {}
}

pub struct Bars {
    id: String,
    multi: MultiProgress,
    bars: Vec<(String, ProgressBar)>,
}

impl Bars {
    pub fn new(id: &str) -> Bars {
        Bars {
            id: id.to_string(),
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            bars: Vec::new(),
        }
    }

    /// Above the bars, which stay at the bottom.
    fn line(&self, text: &str) {
        // A line that cannot be drawn (the terminal went away) is not worth failing a watch.
        let _ = self.multi.println(text);
    }

    /// Leaves the bars drawn as they last were, with nothing below them.
    fn finish_bars(&self) {
        for (_, bar) in &self.bars {
            // As they last were: `finish` would fill them.
            bar.abandon();
        }
    }

    /// `width`: the widest resource name, so that the bars line up.
    fn update(&mut self, bar: &Bar, width: usize) {
        let existing = self
            .bars
            .iter()
            .find(|(r, _)| *r == bar.resource)
            .map(|(_, b)| b.clone());
        let pb = existing.unwrap_or_else(|| {
            let pb = self.multi.add(ProgressBar::new(bar.length));
            pb.set_style(
                ProgressStyle::with_template("{prefix} [{bar:32}] {msg}")
                    .expect("the template is valid")
                    .progress_chars("=> "),
            );
            self.bars.push((bar.resource.clone(), pb.clone()));
            pb
        });
        pb.set_prefix(format!("{:<width$}", bar.resource));
        pb.set_length(bar.length);
        pb.set_position(bar.position);
        pb.set_message(bar.message.clone());
    }
}

impl View for Bars {
    fn show(&mut self, changes: &[Change], request: &Value) {
        for change in changes {
            match change {
                Change::History { entry } => self.line(&history_entry(entry)),
                Change::Timeline { entry } => self.line(&format!("  {}", timeline_entry(entry))),
                Change::AwaitingConfirmation { awaiting: true } => self.line(&format!(
                    "Waiting for a confirmation: a second engineer checks staging, then runs `lifeboat requests confirm {}`",
                    self.id
                )),
                // The bars show these.
                _ => {}
            }
        }
        let bars = progress::bars(request);
        let width = bars.iter().map(|b| b.resource.chars().count()).max().unwrap_or(0);
        for bar in &bars {
            self.update(bar, width);
        }
    }

    fn note(&mut self, text: &str) {
        self.line(&format!("lifeboat: {text}"));
    }

    fn pause(&mut self, _request: &Value) {
        self.finish_bars();
        println!(
            "Request {} waits for a confirmation: `lifeboat requests confirm {}` (a second engineer), then `lifeboat requests watch {}`",
            self.id, self.id, self.id
        );
    }

    fn end(&mut self, _end: &Change, request: &Value) {
        self.finish_bars();
        let run = &request["run"];
        let status = request["status"].as_str().unwrap_or("?");
        let mut last = format!("Request {} {status}", self.id);
        if !run["outcome"].is_null() && status != "completed" {
            last.push_str(&format!(": {}", outcome(&run["outcome"])));
        }
        println!("{last}");
        if let Some(report) = run["report"]["markdown"].as_str() {
            println!("Report: {report}");
        }
    }
}
