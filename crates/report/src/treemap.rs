//! The kept code as a treemap in SVG: one rectangle per crate, split into one rectangle per
//! function, each area proportional to the function's machine-code bytes. Labels that fit are
//! drawn, and every rectangle carries a `<title>` with its full name and size, which browsers
//! show on hover.

use std::collections::BTreeMap;

use svg::Document;
use svg::node::element::{Group, Rectangle, Text, Title};

use crate::{NON_RUST_BUCKET, ShakeReport};

const WIDTH: f64 = 1600.0;
const HEIGHT: f64 = 1000.0;
/// Height of the title band above the map.
const TITLE_BAND: f64 = 64.0;
/// Height of a crate's label band, drawn when the crate's rectangle is tall enough.
const CRATE_BAND: f64 = 18.0;
const FONT: &str = "DejaVu Sans, Verdana, Arial, sans-serif";
/// Approximate advance of one character at font size 1, used to shorten labels to fit.
const CHAR_WIDTH: f64 = 0.6;
/// Functions of one crate drawn one by one. The smaller rest of the crate shares one rectangle,
/// which keeps the file small for images with thousands of functions.
const FUNCTIONS_PER_CRATE: usize = 150;

/// The treemap title's facts that the report does not contain.
#[derive(Debug, Clone, Default)]
pub struct TreemapTitle {
    /// The mounted function, for example `hello::flatter`.
    pub function: String,
    /// Size of the deployment zip, when known.
    pub zip_bytes: Option<u64>,
}

/// A rectangle of the layout, in SVG user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn area(&self) -> f64 {
        self.w * self.h
    }

    fn inset(&self, left: f64, top: f64, right: f64, bottom: f64) -> Rect {
        Rect {
            x: self.x + left,
            y: self.y + top,
            w: (self.w - left - right).max(0.0),
            h: (self.h - top - bottom).max(0.0),
        }
    }
}

/// Lays out `sizes`, sorted largest first and all above 0, in `bounds` with the squarified
/// algorithm of Bruls, Huizing and van Wijk (2000). Each rectangle's area is its share of the
/// total. A row grows while that lowers its worst aspect ratio. Returns one rectangle per size,
/// in the same order.
///
/// The `treemap` crate (0.3.2) was not used: it leaves every item without bounds when all fit in
/// one row, and its areas are not proportional because it sums all items but the last.
pub fn squarify(sizes: &[f64], bounds: Rect) -> Vec<Rect> {
    let total: f64 = sizes.iter().sum();
    if sizes.is_empty() || total <= 0.0 || bounds.area() <= 0.0 {
        return vec![Rect { w: 0.0, h: 0.0, ..bounds }; sizes.len()];
    }
    let scale = bounds.area() / total;
    let areas: Vec<f64> = sizes.iter().map(|size| size * scale).collect();

    let mut rects = Vec::with_capacity(areas.len());
    let mut free = bounds;
    let mut start = 0;
    while start < areas.len() {
        let side = free.w.min(free.h);
        let mut end = start + 1;
        let mut sum = areas[start];
        let mut worst = worst_ratio(&areas[start..end], sum, side);
        while end < areas.len() {
            let grown = sum + areas[end];
            let grown_worst = worst_ratio(&areas[start..=end], grown, side);
            if grown_worst > worst {
                break;
            }
            worst = grown_worst;
            sum = grown;
            end += 1;
        }
        place_row(&areas[start..end], sum, &mut free, &mut rects);
        start = end;
    }
    rects
}

/// Computes the largest aspect ratio in a row of `row` areas summing to `sum`, laid along `side`.
fn worst_ratio(row: &[f64], sum: f64, side: f64) -> f64 {
    let thickness = sum / side;
    row.iter()
        .map(|area| {
            let length = area / thickness;
            (length / thickness).max(thickness / length)
        })
        .fold(0.0, f64::max)
}

/// Places one row along the shorter side of `free` and shrinks `free` by the row's thickness.
fn place_row(row: &[f64], sum: f64, free: &mut Rect, rects: &mut Vec<Rect>) {
    if free.w >= free.h {
        // A column at the left edge.
        let thickness = if free.h > 0.0 { sum / free.h } else { 0.0 };
        let mut y = free.y;
        for area in row {
            let h = if thickness > 0.0 { area / thickness } else { 0.0 };
            rects.push(Rect { x: free.x, y, w: thickness, h });
            y += h;
        }
        free.x += thickness;
        free.w = (free.w - thickness).max(0.0);
    } else {
        // A row at the top edge.
        let thickness = if free.w > 0.0 { sum / free.w } else { 0.0 };
        let mut x = free.x;
        for area in row {
            let w = if thickness > 0.0 { area / thickness } else { 0.0 };
            rects.push(Rect { x, y: free.y, w, h: thickness });
            x += w;
        }
        free.y += thickness;
        free.h = (free.h - thickness).max(0.0);
    }
}

/// One crate of the picture with its functions, largest first.
struct CrateBox {
    name: String,
    bytes: u64,
    functions: Vec<(String, u64)>,
}

/// Groups the kept functions that have machine code by crate, largest crate first. Functions
/// beyond the first `FUNCTIONS_PER_CRATE` of a crate are merged into one entry.
fn crates_of(report: &ShakeReport) -> Vec<CrateBox> {
    let mut by_crate: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for function in &report.kept_functions {
        let Some(bytes) = function.size_bytes.filter(|bytes| *bytes > 0) else { continue };
        let krate = function.crate_name.clone().unwrap_or_else(|| NON_RUST_BUCKET.to_string());
        by_crate.entry(krate).or_default().push((function.name.clone(), bytes));
    }
    let mut crates: Vec<CrateBox> = by_crate
        .into_iter()
        .map(|(name, mut functions)| {
            functions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            if functions.len() > FUNCTIONS_PER_CRATE {
                let rest = functions.split_off(FUNCTIONS_PER_CRATE - 1);
                let bytes = rest.iter().map(|(_, bytes)| bytes).sum();
                functions.push((format!("{} smaller functions", rest.len()), bytes));
            }
            CrateBox {
                bytes: functions.iter().map(|(_, bytes)| bytes).sum(),
                name,
                functions,
            }
        })
        .collect();
    crates.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    crates
}

/// Draws the kept functions of `report` as an SVG treemap, crate then function, with a title
/// giving the totals.
pub fn render_treemap(report: &ShakeReport, title: &TreemapTitle) -> String {
    let crates = crates_of(report);
    let code_bytes: u64 = crates.iter().map(|krate| krate.bytes).sum();
    let function_count: usize = report.kept_functions.iter().filter(|f| f.size_bytes.is_some_and(|b| b > 0)).count();

    let mut heading = format!("{}: {} executable", title.function, human(report.binary_bytes));
    if let Some(zip) = title.zip_bytes.or(report.zip_bytes) {
        heading.push_str(&format!(", {} zipped", human(zip)));
    }
    let subheading = format!(
        "machine code {} in {} functions of {} crates; each area is a function's share of the machine code",
        human(code_bytes),
        function_count,
        crates.len()
    );

    let mut document = Document::new()
        .set("xmlns", "http://www.w3.org/2000/svg")
        .set("width", WIDTH)
        .set("height", HEIGHT)
        .set("viewBox", (0, 0, WIDTH, HEIGHT))
        .set("font-family", FONT)
        .add(Rectangle::new().set("width", WIDTH).set("height", HEIGHT).set("fill", "#ffffff"))
        .add(label(&heading, 12.0, 28.0, 22.0, "bold", "#111111"))
        .add(label(&subheading, 12.0, 52.0, 15.0, "normal", "#444444"));

    let map = Rect { x: 4.0, y: TITLE_BAND, w: WIDTH - 8.0, h: HEIGHT - TITLE_BAND - 4.0 };
    let sizes: Vec<f64> = crates.iter().map(|krate| krate.bytes as f64).collect();
    for (index, (krate, area)) in crates.iter().zip(squarify(&sizes, map)).enumerate() {
        document = document.add(draw_crate(krate, area, index));
    }
    document.to_string()
}

fn draw_crate(krate: &CrateBox, area: Rect, index: usize) -> Group {
    let hue = (index as f64 * 137.508) % 360.0;
    let crate_title = format!("{}: {} in {} functions", krate.name, human(krate.bytes), krate.functions.len());
    let mut group = Group::new().add(
        Rectangle::new()
            .set("x", area.x)
            .set("y", area.y)
            .set("width", area.w)
            .set("height", area.h)
            .set("fill", format!("hsl({hue:.0}, 45%, 35%)"))
            .set("stroke", "#ffffff")
            .set("stroke-width", 2)
            .add(Title::new(crate_title.clone())),
    );
    let banded = area.h > CRATE_BAND * 2.5 && area.w > 40.0;
    let inner = if banded { area.inset(2.0, CRATE_BAND, 2.0, 2.0) } else { area.inset(1.0, 1.0, 1.0, 1.0) };
    if banded {
        let text = fit(&format!("{} {}", krate.name, human(krate.bytes)), area.w - 6.0, 13.0);
        if !text.is_empty() {
            group = group.add(label(&text, area.x + 4.0, area.y + 14.0, 13.0, "bold", "#ffffff"));
        }
    }

    let sizes: Vec<f64> = krate.functions.iter().map(|(_, bytes)| *bytes as f64).collect();
    for ((name, bytes), rect) in krate.functions.iter().zip(squarify(&sizes, inner)) {
        if rect.w < 0.5 || rect.h < 0.5 {
            continue;
        }
        group = group.add(
            Rectangle::new()
                .set("x", round(rect.x))
                .set("y", round(rect.y))
                .set("width", round(rect.w))
                .set("height", round(rect.h))
                .set("fill", format!("hsl({hue:.0}, 55%, 80%)"))
                .set("stroke", format!("hsl({hue:.0}, 40%, 45%)"))
                .set("stroke-width", 0.5)
                .add(Title::new(format!("{name}: {}", human(*bytes)))),
        );
        if rect.w > 50.0 && rect.h > 13.0 {
            let size = if rect.h > 20.0 { 11.0 } else { 9.0 };
            let text = fit(&short_name(name), rect.w - 6.0, size);
            if !text.is_empty() {
                group = group.add(label(&text, rect.x + 3.0, rect.y + size + 2.0, size, "normal", "#111111"));
            }
            if rect.h > 2.0 * size + 8.0 {
                group = group.add(label(&human(*bytes), rect.x + 3.0, rect.y + 2.0 * size + 5.0, size, "normal", "#333333"));
            }
        }
    }
    group
}

fn label(text: &str, x: f64, y: f64, size: f64, weight: &str, color: &str) -> Text {
    Text::new(text)
        .set("x", round(x))
        .set("y", round(y))
        .set("font-size", size)
        .set("font-weight", weight)
        .set("fill", color)
}

/// Shortens a function name so that the part that distinguishes functions comes first. Generic
/// arguments become `<…>`, paths inside the name keep their last segment, and the final path
/// keeps its last two. `<alloc::vec::Vec<u8> as std::io::Write>::write` becomes
/// `<Vec<…> as Write>::write`, and `core::fmt::num::imp::fmt_u64` becomes `imp::fmt_u64`.
fn short_name(name: &str) -> String {
    let mut plain = String::with_capacity(name.len());
    let mut depth = 0usize;
    for (index, c) in name.char_indices() {
        match c {
            '<' if index > 0 && !plain.ends_with(' ') && !plain.ends_with('<') => {
                depth += 1;
                if depth == 1 {
                    plain.push_str("<…>");
                }
            }
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    shorten_paths(&plain)
}

/// Keeps the last segment of each `a::b::c` path in `text`, and the last two of the final one.
fn shorten_paths(text: &str) -> String {
    let is_path_char = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut runs: Vec<(bool, String)> = Vec::new();
    for c in text.chars() {
        let path = is_path_char(c);
        match runs.last_mut() {
            Some((last_path, run)) if *last_path == path => run.push(c),
            _ => runs.push((path, c.to_string())),
        }
    }
    let last_path = runs.iter().rposition(|(path, _)| *path);
    let mut out = String::with_capacity(text.len());
    for (index, (path, run)) in runs.iter().enumerate() {
        if !path || run.starts_with("::") || !run.contains("::") {
            out.push_str(run);
            continue;
        }
        let segments: Vec<&str> = run.split("::").collect();
        let keep = if Some(index) == last_path { 2 } else { 1 };
        out.push_str(&segments[segments.len().saturating_sub(keep)..].join("::"));
    }
    out
}

/// Cuts `text` to the characters that fit in `width` at font `size`, ending with `…` when cut,
/// or returns nothing when not even three characters fit.
fn fit(text: &str, width: f64, size: f64) -> String {
    let capacity = (width / (size * CHAR_WIDTH)).floor() as usize;
    let length = text.chars().count();
    if length <= capacity {
        return text.to_string();
    }
    if capacity < 4 {
        return String::new();
    }
    let mut cut: String = text.chars().take(capacity - 1).collect();
    cut.push('…');
    cut
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn human(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squarify_areas_are_proportional() {
        let sizes = [6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0];
        let bounds = Rect { x: 0.0, y: 0.0, w: 6.0, h: 4.0 };
        let rects = squarify(&sizes, bounds);
        assert_eq!(rects.len(), sizes.len());
        for (size, rect) in sizes.iter().zip(&rects) {
            assert!((rect.area() - size).abs() < 1e-9, "{size} got {rect:?}");
            assert!(rect.x >= -1e-9, "{rect:?}");
            assert!(rect.y >= -1e-9, "{rect:?}");
            assert!(rect.x + rect.w <= 6.0 + 1e-9, "{rect:?}");
            assert!(rect.y + rect.h <= 4.0 + 1e-9, "{rect:?}");
        }
        // The paper's example: the first two items share the left column.
        assert!((rects[0].w - 3.0).abs() < 1e-9, "{rects:?}");
        assert!((rects[1].w - 3.0).abs() < 1e-9, "{rects:?}");
    }

    #[test]
    fn squarify_rectangles_do_not_overlap() {
        let sizes: Vec<f64> = (1..=40).rev().map(|n| (n * n) as f64).collect();
        let rects = squarify(&sizes, Rect { x: 10.0, y: 20.0, w: 300.0, h: 100.0 });
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                let overlap_w = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
                let overlap_h = (a.y + a.h).min(b.y + b.h) - a.y.max(b.y);
                assert!(overlap_w <= 1e-6 || overlap_h <= 1e-6, "{a:?} overlaps {b:?}");
            }
        }
        let total: f64 = rects.iter().map(Rect::area).sum();
        assert!((total - 30_000.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn squarify_single_and_empty() {
        let bounds = Rect { x: 1.0, y: 2.0, w: 3.0, h: 4.0 };
        assert_eq!(squarify(&[5.0], bounds), vec![bounds]);
        assert!(squarify(&[], bounds).is_empty());
    }

    #[test]
    fn short_name_drops_generics_and_leading_path() {
        assert_eq!(short_name("core::fmt::num::imp::fmt_u64"), "imp::fmt_u64");
        assert_eq!(short_name("alloc::vec::Vec<T,A>::push"), "Vec<…>::push");
        assert_eq!(short_name("<alloc::vec::Vec<u8> as std::io::Write>::write"), "<Vec<…> as Write>::write");
        assert_eq!(short_name("<std::backtrace_rs::symbolize::gimli::Cache>::with_global::<F>"), "<Cache>::with_global::<…>");
        assert_eq!(short_name("<&str as core::fmt::Display>::fmt"), "<&str as Display>::fmt");
    }

    #[test]
    fn fit_cuts_with_ellipsis() {
        assert_eq!(fit("abcdef", 100.0, 10.0), "abcdef");
        assert_eq!(fit("abcdefghijklmnop", 60.0, 10.0), "abcdefghi…");
        assert_eq!(fit("abcdef", 10.0, 10.0), "");
    }
}
