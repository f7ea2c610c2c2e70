//! The report's plot: median latency against policy size, log-log, one line per engine, for the
//! decision alone and for JSON in to decision out. SVG, drawn with plotters.

use std::path::Path;

use plotters::prelude::*;
use writ_bench::measure::Stats;

use crate::report::{ENGINES, SizeResult};

const COLOURS: [RGBColor; 4] = [
    RGBColor(0x1b, 0x9e, 0x77),
    RGBColor(0xd9, 0x5f, 0x02),
    RGBColor(0x75, 0x70, 0xb3),
    RGBColor(0xe7, 0x29, 0x8a),
];

/// Which measurement of a size a panel shows.
type Pick = fn(&SizeResult) -> &[Stats; 4];

pub fn latency(results: &[SizeResult], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let pick: [(&str, Pick); 2] = [
        ("Decision alone (prepared request)", |r| &r.decide),
        ("JSON request in to decision out", |r| &r.json),
    ];
    let points = |f: Pick, engine: usize| -> Vec<(f64, f64)> {
        results
            .iter()
            .map(|r| (r.rules as f64, f(r)[engine].median))
            .filter(|(_, y)| y.is_finite() && *y > 0.0)
            .collect()
    };
    let all: Vec<(f64, f64)> =
        pick.iter().flat_map(|(_, f)| (0..4).flat_map(move |e| points(*f, e))).collect();
    if all.is_empty() {
        return Err("no measurements to plot".into());
    }
    let (x_min, x_max) =
        all.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y_min, y_max) =
        all.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    for (area, (title, f)) in panels.iter().zip(pick) {
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (x_min * 0.8..x_max * 1.25).log_scale(),
                (y_min * 0.5..y_max * 30.0).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_desc("rules in the policy")
            .y_desc("median time per decision")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| duration(*y))
            .draw()?;
        for (i, (engine, colour)) in ENGINES.iter().zip(COLOURS).enumerate() {
            let series = points(f, i);
            if series.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(series.clone(), colour.stroke_width(2)))?
                .label(*engine)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart.draw_series(series.into_iter().map(|p| Circle::new(p, 3, colour.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// An axis label for `ns` nanoseconds: `100 ns`, `10 µs`, `1.5 ms`.
fn duration(ns: f64) -> String {
    let (value, unit) = match ns {
        n if n >= 1e9 => (n / 1e9, "s"),
        n if n >= 1e6 => (n / 1e6, "ms"),
        n if n >= 1e3 => (n / 1e3, "µs"),
        n => (n, "ns"),
    };
    let value = format!("{value:.1}");
    format!("{} {unit}", value.trim_end_matches(".0"))
}
