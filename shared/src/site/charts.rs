//! Charts for people who would rather look than read: server-rendered SVG (no script), each
//! with a table of the same numbers beside it, for screen readers and for copying. Bars run
//! from the start of the reading direction, so the charts mirror in right-to-left editions.
//! Hand-written: a charting crate would bring a renderer, fonts and far more than a few rects.

use maud::{Markup, html};

use crate::domain::Language;

/// The bars' colour: the site's link blue, 5.2:1 against white (WCAG 1.4.11 asks 3:1).
const BAR: &str = "#1d5fa8";
const AXIS: &str = "#505a5f";

/// One bar: its label (in the table, and on the bar's tooltip) and its count.
pub struct Bar {
    pub label: String,
    pub count: u64,
}

impl Bar {
    /// The label under a column: an hour's without its year (`12-02 13:00`), else whole.
    fn axis_label(&self) -> &str {
        match self.label.split_once(' ') {
            Some((day, _)) if day.len() == 10 => &self.label[5..],
            _ => &self.label,
        }
    }
}

/// How a chart is drawn: one bar a row (categories, countries), or one column each along time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Rows,
    Columns,
}

/// A chart with its table: `id` names it on the page (unique), `caption` says what it counts,
/// `label_heading` heads the table's first column, `count_heading` the second; `show_table`
/// labels a long table folded away.
#[allow(clippy::too_many_arguments)]
pub fn chart(
    lang: Language,
    show_table: &str,
    id: &str,
    caption: &str,
    label_heading: &str,
    count_heading: &str,
    shape: Shape,
    bars: &[Bar],
) -> Markup {
    let title_id = format!("{id}-title");
    html! {
        figure class="chart" aria-labelledby=(title_id) {
            figcaption id=(title_id) { (caption) }
            @if !bars.is_empty() {
                (match shape {
                    Shape::Rows => rows(lang, &title_id, bars),
                    Shape::Columns => columns(lang, &title_id, bars),
                })
            }
            @let table = html! {
                table {
                    thead { tr { th scope="col" { (label_heading) } th scope="col" { (count_heading) } } }
                    tbody {
                        @for bar in bars { tr { th scope="row" { (bar.label) } td { (bar.count) } } }
                    }
                }
            };
            // A series along time is long: its table folds away (open it to read or copy).
            @if shape == Shape::Columns && !bars.is_empty() {
                details { summary { (show_table) } (table) }
            } @else {
                (table)
            }
        }
    }
}

/// Where a bar of `length` starts on an axis of `total`, from the reading direction's start.
fn start(lang: Language, origin: f64, total: f64, length: f64) -> f64 {
    if lang.is_rtl() {
        origin + total - length
    } else {
        origin
    }
}

/// One row a bar: the label on the reading side, the bar, its count at its end.
fn rows(lang: Language, title_id: &str, bars: &[Bar]) -> Markup {
    const ROW: f64 = 22.0;
    const WIDTH: f64 = 600.0;
    const LABELS: f64 = 180.0;
    const COUNTS: f64 = 60.0;
    let max = bars.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let span = WIDTH - LABELS - COUNTS;
    let height = ROW * bars.len() as f64;
    let rtl = lang.is_rtl();
    // The label column sits at the reading start, the bars after it. Under
    // `direction="rtl"`, "start" is a text's right edge.
    let (label_x, label_anchor, bars_origin) = if rtl {
        (WIDTH - 4.0, "start", COUNTS)
    } else {
        (LABELS - 6.0, "end", LABELS)
    };
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (height) }
            role="img" aria-labelledby=(title_id) focusable="false" font-size="12"
            direction=(if rtl { "rtl" } else { "ltr" }) {
            @for (i, bar) in bars.iter().enumerate() {
                @let y = ROW * i as f64;
                @let length = (bar.count as f64 / max * span).max(if bar.count > 0 { 1.0 } else { 0.0 });
                @let x = start(lang, bars_origin, span, length);
                text x=(label_x) y=(y + 15.0) text-anchor=(label_anchor) fill=(AXIS) { (truncate(&bar.label, 28)) }
                rect x=(x) y=(y + 4.0) width=(length) height=(ROW - 8.0) fill=(BAR) {}
                @let count_x = if rtl { x - 4.0 } else { x + length + 4.0 };
                // Just past the bar's end, in the reading direction.
                text x=(count_x) y=(y + 15.0) text-anchor="start" fill=(AXIS) { (bar.count) }
            }
        }
    }
}

/// One column a bar along time: the largest count marked, and a few labels under the axis.
fn columns(lang: Language, title_id: &str, bars: &[Bar]) -> Markup {
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 160.0;
    const TOP: f64 = 16.0;
    const AXIS_Y: f64 = 130.0;
    let max = bars.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let n = bars.len() as f64;
    let step = WIDTH / n;
    let width = (step * 0.8).max(1.0);
    // At most eight labels under the axis, evenly spread, the first and last included.
    let every = bars.len().div_ceil(8).max(1);
    let x_of = |i: usize| {
        let left = step * i as f64 + (step - width) / 2.0;
        if lang.is_rtl() {
            WIDTH - left - width
        } else {
            left
        }
    };
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
            role="img" aria-labelledby=(title_id) focusable="false" font-size="11"
            direction=(if lang.is_rtl() { "rtl" } else { "ltr" }) {
            line x1="0" y1=(AXIS_Y) x2=(WIDTH) y2=(AXIS_Y) stroke=(AXIS) stroke-width="1" {}
            // "start" is the reading start: the right edge under `direction="rtl"`.
            text x=(if lang.is_rtl() { WIDTH - 2.0 } else { 2.0 }) y="11" fill=(AXIS)
                text-anchor="start" { (max) }
            @for (i, bar) in bars.iter().enumerate() {
                @let height = bar.count as f64 / max as f64 * (AXIS_Y - TOP);
                rect x=(x_of(i)) y=(AXIS_Y - height) width=(width) height=(height) fill=(BAR) {
                    title { (bar.label) ": " (bar.count) }
                }
                @if i % every == 0 || i + 1 == bars.len() {
                    text x=(x_of(i) + width / 2.0) y=(AXIS_Y + 14.0) text-anchor="middle" fill=(AXIS) { (truncate(bar.axis_label(), 12)) }
                }
            }
        }
    }
}

/// A label cut to `chars` characters (the table beside the chart has it whole).
fn truncate(label: &str, chars: usize) -> String {
    if label.chars().count() <= chars {
        label.to_owned()
    } else {
        let mut cut: String = label.chars().take(chars - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(counts: &[(&str, u64)]) -> Vec<Bar> {
        counts
            .iter()
            .map(|(label, count)| Bar {
                label: (*label).to_owned(),
                count: *count,
            })
            .collect()
    }

    #[test]
    fn a_chart_has_its_table_and_is_labelled() {
        let html = chart(
            Language::En,
            "Table",
            "by-category",
            "By category",
            "Category",
            "Responses",
            Shape::Rows,
            &bars(&[("Government", 3), ("Academia <b>", 1)]),
        )
        .into_string();
        assert!(html.contains("<figcaption id=\"by-category-title\">By category</figcaption>"));
        assert!(html.contains("role=\"img\" aria-labelledby=\"by-category-title\""));
        assert!(html.contains("<th scope=\"row\">Government</th><td>3</td>"));
        assert!(html.contains("Academia &lt;b&gt;"), "labels are escaped");
        assert_eq!(html.matches("<rect").count(), 2);
    }

    #[test]
    fn bars_are_proportional_and_mirror_right_to_left() {
        let data = bars(&[("a", 4), ("b", 2), ("c", 0)]);
        let ltr = rows(Language::En, "t", &data).into_string();
        // The span is 600 - 180 - 60 = 360: 4 is the whole span, 2 half of it, 0 nothing.
        assert!(ltr.contains("x=\"180\" y=\"4\" width=\"360\""), "{ltr}");
        assert!(ltr.contains("x=\"180\" y=\"26\" width=\"180\""), "{ltr}");
        assert!(ltr.contains("x=\"180\" y=\"48\" width=\"0\""), "{ltr}");
        let rtl = rows(Language::Ar, "t", &data).into_string();
        // Bars end where the reading starts (the right): they start at 60 + 360 - length.
        assert!(rtl.contains("x=\"60\" y=\"4\" width=\"360\""), "{rtl}");
        assert!(rtl.contains("x=\"240\" y=\"26\" width=\"180\""), "{rtl}");
        let columns_ltr = columns(Language::En, "t", &bars(&[("1", 1), ("2", 2)])).into_string();
        let columns_rtl = columns(Language::Ar, "t", &bars(&[("1", 1), ("2", 2)])).into_string();
        // Two columns of 240 wide in steps of 300: the first at 30 left to right, at 330 mirrored.
        assert!(
            columns_ltr.contains("<rect x=\"30\" y=\"73\" width=\"240\" height=\"57\""),
            "{columns_ltr}"
        );
        assert!(
            columns_rtl.contains("<rect x=\"330\" y=\"73\" width=\"240\" height=\"57\""),
            "{columns_rtl}"
        );
    }

    #[test]
    fn an_empty_chart_is_only_its_table() {
        let html = chart(
            Language::Fr,
            "Tableau",
            "x",
            "X",
            "A",
            "B",
            Shape::Columns,
            &[],
        )
        .into_string();
        assert!(!html.contains("<svg"));
        assert!(html.contains("<table>"));
    }
}
