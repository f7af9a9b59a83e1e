//! PNG plots of a run's metrics (plotters, with an embedded font so no system fonts are needed).

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result};
use fl::federation::RoundMetrics;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

static FONT: Once = Once::new();

pub(crate) fn register_embedded_font() {
    FONT.call_once(|| {
        // The only error is an unparsable font, which the embedded one is not.
        let _ = register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::HACK_REGULAR,
        );
    });
}

/// Draws test accuracy and test loss per round from `metrics.json` into a PNG at `png`.
pub fn plot_metrics(metrics: &Path, png: &Path) -> Result<()> {
    let bytes = std::fs::read(metrics).with_context(|| format!("reading {}", metrics.display()))?;
    let rounds: Vec<RoundMetrics> =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", metrics.display()))?;
    draw(&rounds, png).map_err(|e| anyhow::anyhow!("drawing {}: {e}", png.display()))
}

fn draw(rounds: &[RoundMetrics], png: &Path) -> Result<(), Box<dyn std::error::Error>> {
    register_embedded_font();
    let root = BitMapBackend::new(png, (960, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(480);
    let last = rounds.last().map_or(1, |m| m.round).max(1);
    let accuracy: Vec<(u32, f64)> = rounds
        .iter()
        .map(|m| (m.round, 100.0 * m.test_accuracy))
        .collect();
    let loss: Vec<(u32, f64)> = rounds.iter().map(|m| (m.round, m.test_loss)).collect();
    let max_loss = loss.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.1;
    panel(
        &left,
        "test accuracy (%)",
        last,
        0.0..100.0,
        &accuracy,
        &BLUE,
    )?;
    panel(&right, "test loss", last, 0.0..max_loss, &loss, &RED)?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    title: &str,
    last: u32,
    y: std::ops::Range<f64>,
    points: &[(u32, f64)],
    color: &RGBColor,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0u32..last, y)?;
    chart.configure_mesh().x_desc("round").draw()?;
    chart.draw_series(LineSeries::new(
        points.iter().copied(),
        color.stroke_width(2),
    ))?;
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    Ok(())
}

/// Draws each provider's value for the run (bars; negative values below the axis, in red) into a
/// PNG at `png`.
pub fn plot_contributions(valuation: &zkfl::valuation::RunValuation, png: &Path) -> Result<()> {
    draw_contributions(valuation, png)
        .map_err(|e| anyhow::anyhow!("drawing {}: {e}", png.display()))
}

fn draw_contributions(
    v: &zkfl::valuation::RunValuation,
    png: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    register_embedded_font();
    let root = BitMapBackend::new(png, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let values: Vec<(usize, f64)> = v
        .providers
        .iter()
        .map(|p| (p.client, p.total.to_f64()))
        .collect();
    let top = values.iter().map(|p| p.1).fold(0.0, f64::max);
    let bottom = values.iter().map(|p| p.1).fold(0.0, f64::min);
    let pad = (top - bottom).max(1e-9) * 0.1;
    let n = values.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "contribution per provider ({}, {} rounds)",
                v.method,
                v.rounds.len()
            ),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d((0..n).into_segmented(), (bottom - pad)..(top + pad))?;
    let labels: Vec<String> = values.iter().map(|p| p.0.to_string()).collect();
    chart
        .configure_mesh()
        .x_desc("provider")
        .y_desc("φ (validation rows)")
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    chart.draw_series(values.iter().enumerate().map(|(i, &(_, phi))| {
        let color = if phi >= 0.0 { BLUE } else { RED };
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), phi),
            ],
            color.mix(0.7).filled(),
        );
        bar.set_margin(0, 0, 6, 6);
        bar
    }))?;
    root.present()?;
    Ok(())
}
