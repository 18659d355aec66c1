//! The wiring graph as SVG, laid out here (no Graphviz needed): left to
//! right the source repositories, the trigger rules, the pipeline and one
//! column per stage (its actions below it, and below each action the build
//! project or deployment group it uses); the artifact buckets, keys, roles
//! and deployment applications in a band below, each placed under the
//! nodes wired to it.
//!
//! A node with findings is coloured by the worst and says its findings in
//! words, severity by severity; a missing or unread resource is dashed and
//! says so. Every diagram has a `<title>` and a `<desc>` listing the wiring
//! in words.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{EdgeKind, Graph, Node, NodeKind};

/// Node width.
const W: i32 = 176;
/// The width of every node, for callers checking a layout.
pub const NODE_WIDTH: i32 = W;
/// Horizontal gap between columns (room for edge labels).
const GX: i32 = 46;
/// Vertical gap between nodes of a column, and above the band.
const GY: i32 = 30;
/// Margin around the drawing; the top one also holds the stage "bus".
const M: i32 = 12;
const TOP: i32 = 30;
/// Line height of node text.
const LH: i32 = 15;
/// Characters of a name that fit a node.
const NAME_CHARS: usize = 26;

/// How a diagram is emitted.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Prefix of every id in the diagram and of the link targets of nodes
    /// with findings (`{prefix}-{node id}`), so that many diagrams can share
    /// one page.
    pub id_prefix: &'a str,
    /// Nodes with findings link to `#{prefix}-{node id}`.
    pub links: bool,
    /// A document of its own: carries its style and arrow marker (in a page,
    /// the page provides both once, see [`STYLE`] and [`DEFS`]).
    pub standalone: bool,
}

/// The style of diagrams, for a page that holds many (`svg.wiring`).
pub const STYLE: &str = "svg.wiring{font:12px sans-serif}\
svg.wiring .n rect{fill:#fff;stroke:#555;stroke-width:1}\
svg.wiring .n .k{fill:#555;font-size:11px}\
svg.wiring .n .m{font-weight:bold}\
svg.wiring .n .f{font-weight:bold}\
svg.wiring .n.critical rect{fill:#f8d7da;stroke:#8b0000;stroke-width:3}\
svg.wiring .n.high rect{fill:#fde2cf;stroke:#b34700;stroke-width:2.5}\
svg.wiring .n.medium rect{fill:#fff3cd;stroke:#8a6d00;stroke-width:2}\
svg.wiring .n.low rect{fill:#e7f1ff;stroke:#1f4e8c;stroke-width:1.5}\
svg.wiring .n.info rect{fill:#eee;stroke:#555;stroke-width:1.5}\
svg.wiring .n.missing rect{stroke-dasharray:6 4}\
svg.wiring .e path{fill:none;stroke:#666;stroke-width:1.2;marker-end:url(#wiring-arrow)}\
svg.wiring .e text{fill:#333;font-size:10px;paint-order:stroke;stroke:#fff;stroke-width:3px}\
svg.wiring a:focus rect,svg.wiring a:hover rect{stroke:#000;stroke-width:3}";

/// The arrow marker the diagrams of a page share (id `wiring-arrow`).
pub const DEFS: &str = "<defs><marker id=\"wiring-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"#666\"/></marker></defs>";

/// Text for XML: controls visible (most are not allowed in XML), `&`, `<`,
/// `>` and quotes as entities.
pub fn escape(s: &str) -> String {
    let text = crate::report::escape::control_lines(s);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A placed node: top-left corner and height (all nodes are [`W`] wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub x: i32,
    pub y: i32,
    pub h: i32,
}

impl Place {
    fn cx(&self) -> i32 {
        self.x + W / 2
    }
    fn cy(&self) -> i32 {
        self.y + self.h / 2
    }
    fn right(&self) -> i32 {
        self.x + W
    }
    fn bottom(&self) -> i32 {
        self.y + self.h
    }
}

/// Where every node goes, and the size of the drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// By node index.
    pub places: Vec<Place>,
    pub width: i32,
    pub height: i32,
    /// The top of the band of buckets, keys, roles and applications.
    pub band_y: i32,
}

/// The suffix of the kind line for a missing or unread resource.
fn state(n: &Node) -> &'static str {
    if n.missing {
        " (missing)"
    } else if n.unknown {
        " (not read)"
    } else {
        ""
    }
}

fn height(n: &Node) -> i32 {
    let groups = i32::try_from(n.findings_by_severity().len()).unwrap_or(0);
    8 + LH * (2 + groups)
}

/// Lays the graph out in columns and a band below (see the module docs).
pub fn layout(g: &Graph) -> Layout {
    let index: BTreeMap<&str, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let out_of = |i: usize, kinds: &[EdgeKind]| -> Vec<usize> {
        g.edges
            .iter()
            .filter(|e| e.from == g.nodes[i].id && kinds.contains(&e.kind))
            .filter_map(|e| index.get(e.to.as_str()).copied())
            .collect()
    };
    let of_kind = |k: NodeKind| -> Vec<usize> {
        (0..g.nodes.len())
            .filter(|i| g.nodes[*i].kind == k)
            .collect()
    };
    let mut places: Vec<Option<Place>> = vec![None; g.nodes.len()];
    // Columns of the top part, left to right. Repositories are placed
    // last, level with the action reading them.
    let repos = of_kind(NodeKind::Repository);
    let triggers = of_kind(NodeKind::TriggerRule);
    let pipelines = of_kind(NodeKind::Pipeline);
    let mut columns: Vec<Vec<usize>> = Vec::new();
    let repo_col = (!repos.is_empty()).then(|| {
        columns.push(Vec::new());
        columns.len() - 1
    });
    if !triggers.is_empty() {
        columns.push(triggers);
    }
    columns.push(pipelines.clone());
    let mut readers: BTreeMap<usize, usize> = BTreeMap::new();
    for p in &pipelines {
        for stage in out_of(*p, &[EdgeKind::Contains]) {
            if g.nodes[stage].kind != NodeKind::Stage {
                continue;
            }
            let mut col = vec![stage];
            for action in out_of(stage, &[EdgeKind::Contains]) {
                col.push(action);
                for r in out_of(action, &[EdgeKind::ReadsFrom]) {
                    readers.entry(r).or_insert(action);
                }
                for used in out_of(
                    action,
                    &[
                        EdgeKind::BuildsWith,
                        EdgeKind::DeploysWith,
                        EdgeKind::Invokes,
                    ],
                ) {
                    if !col.contains(&used) {
                        col.push(used);
                    }
                }
            }
            columns.push(col);
        }
    }
    let mut bottom = TOP;
    for (c, col) in columns.iter().enumerate() {
        let x = M + i32::try_from(c).unwrap_or(0) * (W + GX);
        let mut y = TOP;
        for &i in col {
            if places[i].is_some() {
                continue;
            }
            let h = height(&g.nodes[i]);
            places[i] = Some(Place { x, y, h });
            y += h + GY;
            bottom = bottom.max(y - GY);
        }
    }
    if let Some(c) = repo_col {
        let x = M + i32::try_from(c).unwrap_or(0) * (W + GX);
        let mut y = TOP;
        for i in repos {
            let h = height(&g.nodes[i]);
            let want = readers
                .get(&i)
                .and_then(|a| places[*a])
                .map_or(y, |a| a.cy() - h / 2);
            let top = want.max(y);
            places[i] = Some(Place { x, y: top, h });
            y = top + h + GY;
            bottom = bottom.max(top + h);
        }
    }
    // The band: everything not placed yet (buckets, keys, roles), each
    // under the mean of the nodes wired to it; a node wired only to others
    // of the band (a bucket's key) follows them.
    let band_y = bottom + GY + 10;
    let band: Vec<usize> = (0..g.nodes.len())
        .filter(|i| places[*i].is_none())
        .collect();
    let neighbours = |i: usize| -> Vec<usize> {
        let id = g.nodes[i].id.as_str();
        g.edges
            .iter()
            .filter_map(|e| {
                if e.to == id {
                    index.get(e.from.as_str()).copied()
                } else if e.from == id {
                    index.get(e.to.as_str()).copied()
                } else {
                    None
                }
            })
            .collect()
    };
    let mut want: BTreeMap<usize, i32> = BTreeMap::new();
    for &i in &band {
        let xs: Vec<i32> = neighbours(i)
            .into_iter()
            .filter_map(|j| places[j].map(|p| p.cx()))
            .collect();
        if !xs.is_empty() {
            want.insert(i, mean(&xs));
        }
    }
    for _ in 0..band.len() {
        let mut changed = false;
        for &i in &band {
            if want.contains_key(&i) {
                continue;
            }
            let xs: Vec<i32> = neighbours(i)
                .into_iter()
                .filter_map(|j| want.get(&j).map(|x| x + 1))
                .collect();
            if !xs.is_empty() {
                want.insert(i, mean(&xs));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut order: Vec<(i32, usize)> = band
        .iter()
        .map(|&i| (want.get(&i).copied().unwrap_or(i32::MAX), i))
        .collect();
    order.sort();
    let mut x = M;
    for (w, i) in order {
        let left = if w == i32::MAX { x } else { (w - W / 2).max(x) };
        places[i] = Some(Place {
            x: left,
            y: band_y,
            h: height(&g.nodes[i]),
        });
        x = left + W + GX / 2;
    }
    let places: Vec<Place> = places
        .into_iter()
        .map(|p| p.unwrap_or(Place { x: M, y: M, h: 0 }))
        .collect();
    let width = places.iter().map(|p| p.right()).max().unwrap_or(0) + M;
    // band-to-band edges run below the band
    let height = places.iter().map(|p| p.bottom()).max().unwrap_or(0) + M + 16;
    Layout {
        places,
        width,
        height,
        band_y,
    }
}

fn mean(xs: &[i32]) -> i32 {
    let n = i32::try_from(xs.len()).unwrap_or(1).max(1);
    xs.iter().sum::<i32>() / n
}

/// The wiring in words, for `<desc>`: one sentence per edge.
pub fn description(g: &Graph) -> String {
    let name = |id: &str| {
        g.nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| format!("{} {}{}", n.kind.label(), n.name, state(n)))
            .unwrap_or_default()
    };
    let mut out = String::new();
    for e in &g.edges {
        let _ = write!(
            out,
            "{} {} {}. ",
            name(&e.from),
            e.kind.label(),
            name(&e.to)
        );
    }
    for n in g.nodes.iter().filter(|n| !n.findings.is_empty()) {
        let _ = write!(
            out,
            "Findings on {} {}: {}. ",
            n.kind.label(),
            n.name,
            n.findings_by_severity().join("; ")
        );
    }
    out.trim_end().to_string()
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// An edge's path and where its label goes.
fn route(a: Place, b: Place, bus: Option<i32>, band_y: i32) -> (String, i32, i32, &'static str) {
    if let Some(y) = bus {
        // over the top, into the stage from above
        let d = format!("M{} {}V{y}H{}V{}", a.cx() + W / 4, a.y, b.cx(), b.y);
        return (d, b.cx() + 4, b.y - 6, "start");
    }
    if a.y == band_y && b.y == band_y {
        // both in the band: under it, so as not to cross the nodes between
        let y = a.bottom().max(b.bottom()) + 14;
        let d = format!(
            "M{} {}V{y}H{}V{}",
            a.cx(),
            a.bottom(),
            b.cx() - 10,
            b.bottom()
        );
        return (d, (a.cx() + b.cx()) / 2, y - 3, "middle");
    }
    let same_row = a.y < b.bottom() && b.y < a.bottom();
    if same_row && (b.x >= a.right() || b.right() <= a.x) {
        let (x1, x2) = if b.x >= a.right() {
            (a.right(), b.x)
        } else {
            (a.x, b.right())
        };
        let (y1, y2) = (a.cy(), b.cy());
        let mid = (x1 + x2) / 2;
        let d = format!("M{x1} {y1}C{mid} {y1} {mid} {y2} {x2} {y2}");
        return (d, mid, (y1 + y2) / 2 - 4, "middle");
    }
    // one above the other: bottom to top, the ends spread towards the
    // other node so that the edges of one node fan out
    let (y1, y2) = if b.y >= a.bottom() {
        (a.bottom(), b.y)
    } else {
        (a.y, b.bottom())
    };
    let fan = |from: i32, to: i32| from + ((to - from) / 4).clamp(-W / 3, W / 3);
    let (x1, x2) = (fan(a.cx(), b.cx()), fan(b.cx(), a.cx()));
    let mid = (y1 + y2) / 2;
    let d = if x1 == x2 {
        format!("M{x1} {y1}V{y2}")
    } else {
        format!("M{x1} {y1}C{x1} {mid} {x2} {mid} {x2} {y2}")
    };
    (d, (x1 + x2) / 2 + 5, mid + 4, "start")
}

/// The diagram of one pipeline as an `<svg>` element.
pub fn render(g: &Graph, o: Options<'_>) -> String {
    let l = layout(g);
    let p = o.id_prefix;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"wiring\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{p}-title {p}-desc\"><title id=\"{p}-title\">Wiring of pipeline {name}</title><desc id=\"{p}-desc\">{desc}</desc>",
        w = l.width,
        h = l.height,
        name = escape(&g.pipeline),
        desc = escape(&description(g)),
    );
    if o.standalone {
        let _ = writeln!(out, "<style>{STYLE}</style>{DEFS}");
    }
    let index: BTreeMap<&str, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    // pipeline -> stage edges beyond the first stage run over the top
    let mut first_stage = true;
    for e in &g.edges {
        let (Some(&a), Some(&b)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) else {
            continue;
        };
        let bus = (g.nodes[a].kind == NodeKind::Pipeline
            && g.nodes[b].kind == NodeKind::Stage
            && !std::mem::take(&mut first_stage))
        .then_some(TOP / 2 - 2);
        let (d, x, y, anchor) = route(l.places[a], l.places[b], bus, l.band_y);
        let _ = writeln!(
            out,
            "<g class=\"e\"><path d=\"{d}\"/><text x=\"{x}\" y=\"{y}\"{}>{}</text></g>",
            if anchor == "middle" {
                " text-anchor=\"middle\""
            } else {
                ""
            },
            e.kind.label()
        );
    }
    for (n, pl) in g.nodes.iter().zip(&l.places) {
        let mut class = String::from("n");
        if let Some(w) = n.worst {
            class.push(' ');
            class.push_str(w.as_str());
        }
        if n.missing || n.unknown {
            class.push_str(" missing");
        }
        let findings = n.findings_by_severity();
        let mut title = format!("{} {}{}", n.kind.label(), n.name, state(n));
        if let Some(arn) = &n.arn {
            let _ = write!(title, "\n{arn}");
        }
        for f in &findings {
            let _ = write!(title, "\n{f}");
        }
        let link = o.links && !findings.is_empty();
        if link {
            let _ = write!(out, "<a href=\"#{p}-{}\">", n.id);
        }
        let _ = write!(
            out,
            "<g class=\"{class}\" transform=\"translate({} {})\"><title>{}</title><rect width=\"{W}\" height=\"{}\" rx=\"4\"/><text class=\"k\" x=\"8\" y=\"{}\">{}{}</text><text class=\"m\" x=\"8\" y=\"{}\">{}</text>",
            pl.x,
            pl.y,
            escape(&title),
            pl.h,
            4 + LH - 3,
            n.kind.label(),
            state(n),
            4 + 2 * LH - 3,
            escape(&truncate(&n.name, NAME_CHARS)),
        );
        for (k, f) in findings.iter().enumerate() {
            let y = 4 + (3 + i32::try_from(k).unwrap_or(0)) * LH - 3;
            let _ = write!(
                out,
                "<text class=\"f\" x=\"8\" y=\"{y}\">{}</text>",
                escape(&truncate(f, NAME_CHARS))
            );
        }
        out.push_str("</g>");
        if link {
            out.push_str("</a>");
        }
        out.push('\n');
    }
    out.push_str("</svg>");
    out
}

/// Every graph in one SVG document, one below the other, each headed by
/// its pipeline's name.
pub fn document(graphs: &[Graph]) -> String {
    let mut body = String::new();
    let mut y = 0;
    let mut width = 200;
    for (i, g) in graphs.iter().enumerate() {
        let prefix = format!("p{i}");
        let l = layout(g);
        let _ = write!(
            body,
            "<text class=\"h\" x=\"{M}\" y=\"{}\">{}</text>\n<g transform=\"translate(0 {})\">{}</g>\n",
            y + 20,
            escape(&g.pipeline),
            y + 28,
            render(
                g,
                Options {
                    id_prefix: &prefix,
                    links: false,
                    standalone: false,
                },
            )
        );
        y += 28 + l.height + 12;
        width = width.max(l.width);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"wiring\" width=\"{width}\" height=\"{y}\" viewBox=\"0 0 {width} {y}\"><style>{STYLE}svg.wiring .h{{font:bold 14px sans-serif}}</style>{DEFS}\n{body}</svg>\n"
    )
}
