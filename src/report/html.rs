//! The HTML report: one self-contained file (inline CSS, inline SVG, a
//! little inline JavaScript; nothing loaded from the network). A header
//! with the account, regions, time and totals by severity; the findings
//! table, sortable and filterable with JavaScript and complete without it;
//! per pipeline its wiring diagram (see [`crate::graph::svg`]) with the
//! findings of each node, and the rule's remediation, one click away; the
//! rules that failed; what could not be checked.
//!
//! Up to [`INLINE_DIAGRAMS`] pipelines every diagram is inline SVG. Above
//! that each pipeline is a closed `<details>` and its diagram waits,
//! deflated and in base64 (a seventh of its size), in a `data-z` attribute;
//! the page's script inflates it with the browser's own
//! `DecompressionStream` when the pipeline is opened, so that the page of a
//! large account stays small and quick to render.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::Report;
use crate::findings::{Finding, Severity};
use crate::graph::svg::{self, escape};
use crate::graph::{Graph, Node};
use crate::rules::RuleFile;

/// Up to this many pipelines, every diagram is inline SVG and the
/// pipelines with findings are open.
pub const INLINE_DIAGRAMS: usize = 100;

/// One audited pipeline: its graph when the snapshot is at hand (the audit
/// of several accounts has none).
pub struct Pipeline<'a> {
    pub name: &'a str,
    pub arn: &'a str,
    pub graph: Option<Graph>,
}

/// What the HTML report shows besides the report itself.
pub struct Context<'a> {
    /// When the snapshot was taken (RFC 3339).
    pub taken_at: Option<&'a str>,
    /// Every audited pipeline, in report order.
    pub pipelines: Vec<Pipeline<'a>>,
    /// The rules, for titles and remediation.
    pub rules: &'a [&'a RuleFile],
    /// The base of the rule pages ([`super::docs_base`]); none: no links.
    pub docs_url: Option<&'a str>,
}

const CSS: &str = "\
*{box-sizing:border-box}\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#111;margin:0 auto;max-width:1440px;padding:0 16px 32px}\
h1{font-size:22px;margin:16px 0 4px}h2{font-size:18px;margin:24px 0 8px;border-bottom:2px solid #333}h3{font-size:15px;margin:12px 0 4px}\
a{color:#0645ad}\
header dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}header dt{font-weight:bold}header dd{margin:0}\
nav a{margin-right:12px}\
.totals{list-style:none;padding:0;margin:4px 0;display:flex;gap:8px;flex-wrap:wrap}\
.sev{display:inline-block;min-width:5.5em;padding:0 5px;border:1px solid #555;border-radius:3px;font-weight:bold;font-size:12px;text-transform:uppercase;white-space:nowrap;text-align:center}\
.sev.critical{background:#f8d7da;border:3px double #8b0000;color:#6b0000}\
.sev.high{background:#fde2cf;border:2px solid #b34700;color:#7a3000}\
.sev.medium{background:#fff3cd;border:2px dashed #8a6d00;color:#5c4900}\
.sev.low{background:#e7f1ff;border:1px solid #1f4e8c;color:#1f4e8c}\
.sev.info{background:#eee;border:1px dotted #555;color:#333}\
.sev.none{background:#e6f4ea;border:1px solid #2e7d32;color:#1b5e20}\
#filters{display:flex;gap:12px;flex-wrap:wrap;align-items:end;margin:8px 0}#filters label{display:flex;flex-direction:column;font-size:12px}#filters select{max-width:22em}\
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}\
th{background:#f4f4f4;position:sticky;top:0}th button{font:inherit;font-weight:bold;border:0;background:none;padding:0;cursor:pointer}\
th[aria-sort=ascending] button::after{content:' \\25B2'}th[aria-sort=descending] button::after{content:' \\25BC'}\
td code,li code{font-size:12px;word-break:break-all}\
details.pl{border:1px solid #ccc;border-radius:4px;margin:8px 0;padding:0 10px}details.pl>summary{cursor:pointer;padding:6px 0;font-weight:bold}\
.fig{overflow-x:auto;margin:6px 0}svg.wiring{max-width:100%;height:auto}\
.nodes>li{margin:6px 0}.nodes>li:target{outline:3px solid #0645ad}.fix{margin:2px 0 6px;color:#333}.fix b{color:#111}\
.rule{border-left:4px solid #ccc;padding:0 0 0 10px;margin:10px 0}.rule:target{border-color:#0645ad}\
.muted{color:#555}\
@media print{#filters,nav,.noprint{display:none!important}body{max-width:none;padding:0}th{position:static}details.pl{break-inside:avoid-page}.fig{overflow:visible}a{color:inherit;text-decoration:none}}";

const JS: &str = r#"(function(){
var t=document.getElementById('findings-table');
if(t){var b=t.tBodies[0],rows=[].slice.call(b.rows),f=document.getElementById('filters'),shown=document.getElementById('shown');
f.hidden=false;
var apply=function(){var s=f.elements.sev.value,r=f.elements.rule.value,p=f.elements.pipeline.value,q=f.elements.q.value.toLowerCase(),n=0;
rows.forEach(function(tr){var ok=(!s||tr.dataset.sev===s)&&(!r||tr.dataset.rule===r)&&(!p||tr.dataset.pipeline===p)&&(!q||tr.textContent.toLowerCase().indexOf(q)>=0);tr.hidden=!ok;if(ok)n++;});
shown.textContent=n+' of '+rows.length+' finding(s) shown';};
f.addEventListener('input',apply);f.addEventListener('change',apply);f.addEventListener('submit',function(e){e.preventDefault();});
[].forEach.call(t.tHead.rows[0].cells,function(th,k){var btn=th.querySelector('button');if(!btn)return;btn.addEventListener('click',function(){
var asc=th.getAttribute('aria-sort')!=='ascending';
[].forEach.call(t.tHead.rows[0].cells,function(c){c.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');
var key=function(r){var c=r.cells[k];return c.dataset.v||c.textContent;};
rows.sort(function(x,y){var a=key(x),z=key(y);return (a<z?-1:a>z?1:0)*(asc?1:-1);});
rows.forEach(function(r){b.appendChild(r);});});});}
var draw=function(d){var z=d.querySelector('.dg[data-z]');if(!z)return;var s=atob(z.getAttribute('data-z')),u=new Uint8Array(s.length);z.removeAttribute('data-z');
for(var i=0;i<s.length;i++)u[i]=s.charCodeAt(i);
new Response(new Blob([u]).stream().pipeThrough(new DecompressionStream('deflate-raw'))).text().then(function(t){z.innerHTML=t;z.dispatchEvent(new Event('drawn',{bubbles:true}));});};
document.addEventListener('toggle',function(e){if(e.target.open)draw(e.target);},true);
[].forEach.call(document.querySelectorAll('details[open]'),draw);
var reveal=function(){var id=location.hash.slice(1),el=id&&document.getElementById(decodeURIComponent(id));
for(var d=el;d;d=d.parentElement)if(d.tagName==='DETAILS'&&!d.open){d.open=true;draw(d);}if(el)el.scrollIntoView();};
addEventListener('hashchange',reveal);reveal();
addEventListener('beforeprint',function(){[].forEach.call(document.querySelectorAll('details.pl'),function(d){d.open=true;draw(d);});});
})();"#;

/// A diagram deflated (raw DEFLATE) and in base64, for `data-z`.
pub fn pack(svg: &str) -> String {
    use base64::Engine;
    let z = miniz_oxide::deflate::compress_to_vec(svg.as_bytes(), 9);
    base64::engine::general_purpose::STANDARD.encode(z)
}

fn badge(s: Option<Severity>) -> String {
    match s {
        Some(s) => format!("<span class=\"sev {s}\">{s}</span>"),
        None => "<span class=\"sev none\">no findings</span>".to_string(),
    }
}

/// Sort key of a severity cell: the most severe first.
fn rank(s: Severity) -> usize {
    Severity::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// The rule's remediation, as a paragraph.
fn fix(rule: Option<&RuleFile>) -> String {
    match rule {
        Some(r) => {
            let mut out = format!(
                "<p class=\"fix\"><b>Fix:</b> {}",
                escape(r.docs.remediation.trim())
            );
            if let Some(f) = &r.fix {
                let _ = write!(
                    out,
                    " <span class=\"muted\">(<code>pipeaudit --remediate</code> can apply it: {}, {})</span>",
                    escape(&f.action),
                    f.safety
                );
            }
            out.push_str("</p>");
            out
        }
        None => String::new(),
    }
}

/// Where the finding's resource is defined in infrastructure as code
/// (with `--iac`), or nothing.
fn defined_in(f: &Finding) -> String {
    match &f.defined_in {
        Some(d) => format!(
            "<br><span class=\"muted\">defined in <code>{}</code></span>",
            escape(&d.to_string())
        ),
        None => String::new(),
    }
}

fn finding_item(f: &Finding, rules: &BTreeMap<&str, &RuleFile>) -> String {
    format!(
        "<li>{} <a href=\"#rule-{id}\">{id}</a> {} <code>{}</code>{}{}</li>",
        badge(Some(f.severity)),
        escape(&f.message),
        escape(&f.resource_arn),
        defined_in(f),
        fix(rules.get(f.rule_id.as_str()).copied()),
        id = escape(&f.rule_id),
    )
}

/// The "Who can ship" part of a pipeline: its release-path findings by
/// rule, each principal with the steps of its path.
fn who_can_ship(findings: &[&Finding], rules: &BTreeMap<&str, &RuleFile>) -> String {
    let mut paths: Vec<&&Finding> = findings.iter().filter(|f| !f.witness.is_empty()).collect();
    if paths.is_empty() {
        return String::new();
    }
    paths.sort_by(|a, b| (&a.rule_id, &a.resource_arn).cmp(&(&b.rule_id, &b.resource_arn)));
    let mut out = format!(
        "<section class=\"ship\"><h3>Who can ship ({} path(s) around the review)</h3><ul class=\"nodes\">",
        paths.len()
    );
    for f in paths {
        let title = rules
            .get(f.rule_id.as_str())
            .map(|r| r.title.as_str())
            .unwrap_or(f.slug.as_str());
        let _ = write!(
            out,
            "<li>{} <a href=\"#rule-{id}\">{id}</a> {} <code>{}</code>{}<ol class=\"steps\">",
            badge(Some(f.severity)),
            escape(title),
            escape(&f.resource_arn),
            fix(rules.get(f.rule_id.as_str()).copied()),
            id = escape(&f.rule_id),
        );
        for step in &f.witness {
            let _ = write!(
                out,
                "<li><code>{}</code> <b>{}</b> on <code>{}</code>",
                escape(&step.principal),
                escape(&step.action),
                escape(&step.resource)
            );
            if !step.detail.is_empty() {
                let _ = write!(out, " ({})", escape(&step.detail));
            }
            if !step.granted_by.is_empty() {
                let _ = write!(
                    out,
                    "<br><span class=\"muted\">granted by {}</span>",
                    escape(&step.granted_by.join("; "))
                );
            }
            if !step.conditions.is_empty() {
                let _ = write!(
                    out,
                    "<br><span class=\"muted\">if {}</span>",
                    escape(&step.conditions.join(" and "))
                );
            }
            out.push_str("</li>");
        }
        out.push_str("</ol></li>");
    }
    out.push_str("</ul></section>");
    out
}

fn node_title(n: &Node) -> String {
    let state = if n.missing {
        " (missing)"
    } else if n.unknown {
        " (not read)"
    } else {
        ""
    };
    format!("{} <b>{}</b>{state}", n.kind.label(), escape(&n.name))
}

/// Renders the report.
pub fn render(r: &Report<'_>, c: &Context<'_>) -> String {
    let rules: BTreeMap<&str, &RuleFile> = c.rules.iter().map(|r| (r.id.as_str(), *r)).collect();
    let inline = c.pipelines.len() <= INLINE_DIAGRAMS;
    let index: BTreeMap<&str, usize> = c
        .pipelines
        .iter()
        .enumerate()
        .map(|(i, p)| (p.arn, i))
        .collect();
    let mut by_pipeline: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in r.findings {
        by_pipeline
            .entry(f.pipeline_arn.as_str())
            .or_default()
            .push(f);
    }
    let mut out = String::with_capacity(64 * 1024 + c.pipelines.len() * 4096);
    let accounts = r.accounts();
    let title = format!(
        "pipeaudit: {} finding(s) in {} pipeline(s)",
        r.findings.len(),
        r.pipelines
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><link rel=\"icon\" href=\"data:,\"><style>{CSS}{}</style></head><body>",
        escape(&title),
        svg::STYLE
    );
    // the arrow marker every diagram refers to
    let _ = write!(
        out,
        "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\" focusable=\"false\">{}</svg>",
        svg::DEFS
    );
    let _ = write!(
        out,
        "<header><h1>{}</h1><dl><dt>Account{}</dt><dd>{}</dd><dt>Region(s)</dt><dd>{}</dd><dt>Taken at</dt><dd>{}</dd><dt>Pipelines</dt><dd>{}</dd></dl><ul class=\"totals\" aria-label=\"Findings by severity\">",
        escape(&title),
        if accounts.len() == 1 { "" } else { "s" },
        escape(&accounts.join(", ")),
        escape(&r.regions().join(", ")),
        c.taken_at
            .map(|t| format!("<time datetime=\"{0}\">{0}</time>", escape(t)))
            .unwrap_or_else(|| "not recorded".to_string()),
        r.pipelines
    );
    for (s, n) in r.by_severity() {
        let _ = write!(out, "<li>{} {n}</li>", badge(Some(s)));
    }
    out.push_str("</ul><nav class=\"noprint\"><a href=\"#findings\">Findings</a><a href=\"#pipelines\">Pipelines</a><a href=\"#rules\">Rules</a>");
    let is_note =
        |d: &&crate::findings::Diagnostic| d.kind == crate::findings::DiagnosticKind::Note;
    if r.diagnostics.iter().any(|d| !is_note(&d)) {
        out.push_str("<a href=\"#not-checked\">Not checked</a>");
    }
    if r.diagnostics.iter().any(|d| is_note(&d)) {
        out.push_str("<a href=\"#notes\">Notes</a>");
    }
    out.push_str("</nav></header><main>");

    // The findings table.
    let _ = write!(
        out,
        "<section id=\"findings\" aria-labelledby=\"findings-h\"><h2 id=\"findings-h\">Findings ({})</h2>",
        r.findings.len()
    );
    if r.findings.is_empty() {
        out.push_str("<p>No findings.</p>");
    } else {
        let rule_ids: BTreeSet<&str> = r.findings.iter().map(|f| f.rule_id.as_str()).collect();
        let names: BTreeSet<&str> = r.findings.iter().map(|f| f.pipeline.as_str()).collect();
        out.push_str("<form id=\"filters\" hidden role=\"search\" aria-label=\"Filter the findings\"><label>Severity<select name=\"sev\"><option value=\"\">all</option>");
        for s in Severity::ALL {
            let _ = write!(out, "<option value=\"{s}\">{s}</option>");
        }
        out.push_str(
            "</select></label><label>Rule<select name=\"rule\"><option value=\"\">all</option>",
        );
        for id in &rule_ids {
            let t = rules.get(id).map(|r| r.title.as_str()).unwrap_or("");
            let _ = write!(
                out,
                "<option value=\"{0}\">{0} {1}</option>",
                escape(id),
                escape(t)
            );
        }
        out.push_str("</select></label><label>Pipeline<select name=\"pipeline\"><option value=\"\">all</option>");
        for n in &names {
            let _ = write!(out, "<option value=\"{0}\">{0}</option>", escape(n));
        }
        out.push_str("</select></label><label>Search<input type=\"search\" name=\"q\" placeholder=\"text in any column\"></label><output id=\"shown\" aria-live=\"polite\"></output></form>");
        out.push_str("<table id=\"findings-table\"><thead><tr><th scope=\"col\"><button type=\"button\">Severity</button></th><th scope=\"col\"><button type=\"button\">Rule</button></th><th scope=\"col\"><button type=\"button\">Pipeline</button></th><th scope=\"col\"><button type=\"button\">Resource</button></th><th scope=\"col\"><button type=\"button\">Message</button></th></tr></thead><tbody>");
        let mut node_of: BTreeMap<(&str, &str), String> = BTreeMap::new();
        for (i, p) in c.pipelines.iter().enumerate() {
            for n in p.graph.iter().flat_map(|g| &g.nodes) {
                if let Some(a) = &n.arn {
                    node_of.insert((p.arn, a.as_str()), format!("p{i}-{}", n.id));
                }
            }
        }
        for f in r.findings {
            let pipeline = match index.get(f.pipeline_arn.as_str()) {
                Some(i) => format!("<a href=\"#p{i}\">{}</a>", escape(&f.pipeline)),
                None => escape(&f.pipeline),
            };
            let resource = match node_of.get(&(f.pipeline_arn.as_str(), f.resource_arn.as_str())) {
                Some(id) => format!(
                    "<a href=\"#{id}\"><code>{}</code></a>",
                    escape(&f.resource_arn)
                ),
                None => format!("<code>{}</code>", escape(&f.resource_arn)),
            };
            let resource = format!("{resource}{}", defined_in(f));
            let _ = write!(
                out,
                "<tr data-sev=\"{s}\" data-rule=\"{id}\" data-pipeline=\"{pn}\"><td data-v=\"{rank}\">{badge}</td><td><a href=\"#rule-{id}\">{id}</a> {slug}</td><td>{pipeline}</td><td>{resource}</td><td>{msg}</td></tr>",
                s = f.severity,
                id = escape(&f.rule_id),
                pn = escape(&f.pipeline),
                rank = rank(f.severity),
                badge = badge(Some(f.severity)),
                slug = escape(&f.slug),
                msg = escape(&f.message),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    // The pipelines, each with its diagram and the findings on its nodes.
    let _ = write!(
        out,
        "<section id=\"pipelines\" aria-labelledby=\"pipelines-h\"><h2 id=\"pipelines-h\">Pipelines ({})</h2>",
        c.pipelines.len()
    );
    if !inline {
        let _ = write!(
            out,
            "<p class=\"muted\">{} pipelines: open one to draw its wiring diagram (<code>pipeaudit graph --format svg --pipeline NAME</code> draws it as a file).</p>",
            c.pipelines.len()
        );
    }
    for (i, p) in c.pipelines.iter().enumerate() {
        let findings = by_pipeline.get(p.arn).map(Vec::as_slice).unwrap_or(&[]);
        let worst = findings.iter().map(|f| f.severity).max();
        let open = inline && worst.is_some();
        let _ = write!(
            out,
            "<details class=\"pl\" id=\"p{i}\"{}><summary>{} {} <span class=\"muted\">{} finding(s)</span></summary><p class=\"muted\"><code>{}</code></p>",
            if open { " open" } else { "" },
            badge(worst),
            escape(p.name),
            findings.len(),
            escape(p.arn)
        );
        let prefix = format!("p{i}");
        match &p.graph {
            Some(g) => {
                let drawing = svg::render(
                    g,
                    svg::Options {
                        id_prefix: &prefix,
                        links: true,
                        standalone: false,
                    },
                );
                if inline {
                    let _ = write!(out, "<div class=\"fig\">{drawing}</div>");
                } else {
                    let _ = write!(
                        out,
                        "<div class=\"fig dg\" data-z=\"{}\"><p class=\"muted\">The diagram is drawn when the pipeline is opened (JavaScript).</p></div>",
                        pack(&drawing)
                    );
                }
                let mut placed: BTreeSet<&str> = BTreeSet::new();
                let nodes: Vec<&Node> = g.nodes.iter().filter(|n| !n.findings.is_empty()).collect();
                if !nodes.is_empty() {
                    out.push_str("<ul class=\"nodes\" aria-label=\"Findings by resource\">");
                    for n in nodes {
                        let _ = write!(out, "<li id=\"{prefix}-{}\">{}<ul>", n.id, node_title(n));
                        for f in findings
                            .iter()
                            .filter(|f| n.arn.as_deref() == Some(f.resource_arn.as_str()))
                        {
                            placed.insert(f.fingerprint.as_str());
                            out.push_str(&finding_item(f, &rules));
                        }
                        out.push_str("</ul></li>");
                    }
                    out.push_str("</ul>");
                }
                let rest: Vec<&&Finding> = findings
                    .iter()
                    .filter(|f| f.witness.is_empty() && !placed.contains(f.fingerprint.as_str()))
                    .collect();
                if !rest.is_empty() {
                    out.push_str("<p>Findings on resources not drawn:</p><ul class=\"nodes\">");
                    for f in rest {
                        out.push_str(&finding_item(f, &rules));
                    }
                    out.push_str("</ul>");
                }
            }
            None => {
                out.push_str("<p class=\"muted\">No diagram: the audit of several accounts keeps no snapshot (<code>pipeaudit graph</code> draws one account).</p>");
                if findings.iter().any(|f| f.witness.is_empty()) {
                    out.push_str("<ul class=\"nodes\">");
                    for f in findings.iter().filter(|f| f.witness.is_empty()) {
                        out.push_str(&finding_item(f, &rules));
                    }
                    out.push_str("</ul>");
                }
            }
        }
        out.push_str(&who_can_ship(findings, &rules));
        out.push_str("</details>");
    }
    out.push_str("</section>");

    // The rules that failed.
    let failed: BTreeSet<&str> = r.findings.iter().map(|f| f.rule_id.as_str()).collect();
    out.push_str("<section id=\"rules\" aria-labelledby=\"rules-h\"><h2 id=\"rules-h\">Rules with findings</h2>");
    if failed.is_empty() {
        out.push_str("<p>None.</p>");
    }
    for id in failed {
        let n = r.findings.iter().filter(|f| f.rule_id == id).count();
        match rules.get(id) {
            Some(rule) => {
                let _ = write!(
                    out,
                    "<article class=\"rule\" id=\"rule-{id}\"><h3>{id} {title} {badge}</h3><p class=\"muted\">{slug}: {n} finding(s).{link}</p><p><b>What:</b> {what}</p><p><b>Why:</b> {why}</p>{fix}</article>",
                    id = escape(id),
                    title = escape(&rule.title),
                    badge = badge(Some(rule.severity)),
                    slug = escape(&rule.slug),
                    link = match c.docs_url {
                        Some(base) => format!(
                            " <a href=\"{}\">Rule page</a>",
                            escape(&super::rule_page(base, id))
                        ),
                        None => String::new(),
                    },
                    what = escape(rule.docs.what.trim()),
                    why = escape(rule.docs.why.trim()),
                    fix = fix(Some(rule)),
                );
            }
            None => {
                let _ = write!(
                    out,
                    "<article class=\"rule\" id=\"rule-{0}\"><h3>{0}</h3><p>{n} finding(s).</p></article>",
                    escape(id)
                );
            }
        }
    }
    out.push_str("</section>");

    let (notes, unchecked): (Vec<_>, Vec<_>) = r
        .diagnostics
        .iter()
        .partition(|d| d.kind == crate::findings::DiagnosticKind::Note);
    for (id, title, list) in [
        ("not-checked", "Not checked", &unchecked),
        (
            "notes",
            "Notes (limits of the audit; they do not change the exit code)",
            &notes,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<section id=\"{id}\" aria-labelledby=\"{id}-h\"><h2 id=\"{id}-h\">{title} ({})</h2><ul>",
            list.len()
        );
        for d in list.iter() {
            let _ = write!(
                out,
                "<li><code>{}</code> {}</li>",
                d.kind,
                escape(&d.message)
            );
        }
        out.push_str("</ul></section>");
    }
    let _ = writeln!(out, "</main><script>{JS}</script></body></html>");
    out
}
