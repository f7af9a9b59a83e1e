//! Progress bars for federated rounds (indicatif), hidden when output is for scripts.

use std::path::PathBuf;

use fl::federation::{Progress, RoundMetrics};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plot::plot_metrics;

/// A bar over rounds and one over the clients of the current round; redraws the plot after each
/// round so a long run can be watched.
pub struct RoundBars {
    rounds: ProgressBar,
    clients: ProgressBar,
    out: PathBuf,
}

impl RoundBars {
    /// Bars for `total` rounds, drawn on stderr when `visible`.
    pub fn new(total: u32, visible: bool, out: PathBuf) -> Self {
        let multi = MultiProgress::with_draw_target(if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let style = |template: &str| {
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ")
        };
        let rounds = multi.add(ProgressBar::new(u64::from(total)));
        rounds.set_style(style("rounds  [{bar:30}] {pos}/{len} {msg} ({elapsed})"));
        let clients = multi.add(ProgressBar::new(0));
        clients.set_style(style("clients [{bar:30}] {pos}/{len}"));
        RoundBars {
            rounds,
            clients,
            out,
        }
    }

    /// Clears the bars.
    pub fn finish(&self) {
        self.clients.finish_and_clear();
        self.rounds.finish();
    }
}

impl Progress for RoundBars {
    fn round_started(&self, round: u32, clients: usize) {
        self.rounds.set_position(u64::from(round - 1));
        self.clients.set_length(clients as u64);
        self.clients.set_position(0);
    }

    fn client_finished(&self, _round: u32, _client: usize) {
        self.clients.inc(1);
    }

    fn round_finished(&self, metrics: &RoundMetrics) {
        self.rounds.set_position(u64::from(metrics.round));
        self.rounds
            .set_message(format!("accuracy {:.2}%", 100.0 * metrics.test_accuracy));
        if let Err(error) = plot_metrics(
            &self.out.join("metrics.json"),
            &self.out.join("accuracy.png"),
        ) {
            tracing::warn!(%error, "could not redraw the plot");
        }
    }
}
