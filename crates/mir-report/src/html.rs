//! Rendering a [`Summary`] as one self-contained HTML page: inline CSS, one small inline script
//! (allowed by its hash in the page's Content-Security-Policy, which also forbids every network
//! request), charts as CSS bars, previews as `data:` URIs. Every string from a file goes through
//! [`esc`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::escape::esc;
use crate::folders::FOLDER_RULES;
use crate::summary::{DupeMethod, FileRow, Status, Summary, Tally};

/// What the page says about where its data came from, and the previews to embed.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The page title.
    pub title: String,
    /// Where the records came from (`scan of PATH…` or `records from FILE`).
    pub source: String,
    /// When the page was made (any text; left out when empty).
    pub generated: String,
    /// Preview data URIs by preview path ([`crate::preview::load_all`]).
    pub previews: BTreeMap<String, String>,
    /// Problems met while making the page (bad record lines, previews left out).
    pub notes: Vec<String>,
}

const CSS: &str = r#"
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2430;--muted:#5d6778;--line:#e2e6ec;--accent:#3d6df2;
--ok:#1f8a4c;--warn:#b7791f;--bad:#c53030;--chip:#eef1f6}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
header{background:#1d2430;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px;font-weight:650}
header p{margin:4px 0 0;color:#b9c2d0;font-size:13px}
main{max-width:1280px;margin:0 auto;padding:18px 24px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:16px 0}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:0 0 6px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card b{display:block;font-size:22px;font-weight:650}
.card small{color:var(--muted);font-size:12.5px}
.card.warn b{color:var(--warn)}.card.bad b{color:var(--bad)}.card.ok b{color:var(--ok)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:14px 28px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.tally td{padding:3px 6px}.tally td:first-child{white-space:nowrap;max-width:170px;overflow:hidden;text-overflow:ellipsis}
.bar{background:var(--chip);border-radius:4px;height:10px;min-width:60px;overflow:hidden}
.bar>i{display:block;height:100%;min-width:3px;background:var(--accent);border-radius:4px}
.hbar{display:grid;grid-template-columns:minmax(160px,300px) 1fr 130px;gap:10px;align-items:center;margin:5px 0}
.hbar .n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.hbar .bar{height:16px}.hbar .lbl{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}.path{word-break:break-all}
.chip{display:inline-block;padding:1px 7px;border-radius:9px;font-size:11.5px;background:var(--chip);white-space:nowrap}
.s-ok{background:#e3f4ea;color:var(--ok)}.s-ambiguous,.s-arch-only{background:#fbf0dc;color:var(--warn)}
.s-unknown,.s-error{background:#fde4e4;color:var(--bad)}
.group{border-left:3px solid var(--accent);padding:4px 10px;margin:8px 0}
ul.ev{margin:2px 0;padding-left:18px;color:var(--muted);font-size:12.5px}
.filters{display:flex;gap:10px;flex-wrap:wrap;align-items:center;margin-bottom:10px}
.filters input,.filters select{font:inherit;padding:5px 8px;border:1px solid var(--line);border-radius:6px;background:#fff}
.filters input{min-width:280px}
#models th{cursor:pointer;user-select:none}
#models th[aria-sort=ascending]::after{content:" \25B2"}#models th[aria-sort=descending]::after{content:" \25BC"}
#models td{font-size:13px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
.gallery figure{margin:0;border:1px solid var(--line);border-radius:8px;overflow:hidden;background:var(--chip)}
.gallery img{display:block;width:100%;height:150px;object-fit:cover}
.gallery figcaption{padding:4px 6px;font-size:12px;word-break:break-all}
.note{color:var(--muted);font-size:12.5px;margin:6px 0 0}
details summary{cursor:pointer;color:var(--accent)}
"#;

/// Sorting, filtering and the `#q=…&status=…&kind=…&sort=…&desc` address form (so a filtered
/// view can be bookmarked, and driven by the browser test).
const SCRIPT: &str = r#"(function(){
var t=document.getElementById('models');if(!t)return;
var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
var q=document.getElementById('q'),st=document.getElementById('fstatus'),kd=document.getElementById('fkind'),shown=document.getElementById('shown');
function apply(){var s=q.value.toLowerCase(),a=st.value,k=kd.value,n=0;
rows.forEach(function(r){var ok=(!s||r.textContent.toLowerCase().indexOf(s)>=0)&&(!a||r.getAttribute('data-status')===a)&&(!k||r.getAttribute('data-kind')===k);r.hidden=!ok;if(ok)n++;});
shown.textContent=String(n);}
[q,st,kd].forEach(function(e){e.addEventListener('input',apply);e.addEventListener('change',apply);});
var ths=t.tHead.rows[0].cells;
function val(r,i){var c=r.cells[i];var v=c.getAttribute('data-v');return v===null?c.textContent:v;}
function sortBy(i,desc){var th=ths[i],num=th.getAttribute('data-type')==='num',dir=desc?-1:1;
Array.prototype.forEach.call(ths,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',desc?'descending':'ascending');
rows.sort(function(a,b){var x=val(a,i),y=val(b,i);return(num?(parseFloat(x)||0)-(parseFloat(y)||0):x.localeCompare(y))*dir;});
rows.forEach(function(r){body.appendChild(r);});}
Array.prototype.forEach.call(ths,function(th,i){th.addEventListener('click',function(){sortBy(i,th.getAttribute('aria-sort')==='ascending');});});
var h=new URLSearchParams(location.hash.slice(1));
if(h.has('q'))q.value=h.get('q');if(h.has('status'))st.value=h.get('status');if(h.has('kind'))kd.value=h.get('kind');
if(h.has('sort')){Array.prototype.forEach.call(ths,function(th,i){if(th.getAttribute('data-key')===h.get('sort'))sortBy(i,h.has('desc'));});}
apply();document.body.setAttribute('data-ready','1');
})();"#;

/// Sizes as people read them: 1.5 GiB (binary units, one decimal).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / whole as f64).clamp(0.0, 100.0)
    }
}

/// A size with the exact byte count in a `data-bytes` attribute and tooltip.
fn size_html(bytes: u64) -> String {
    format!(
        "<span data-bytes=\"{bytes}\" title=\"{bytes} bytes\">{}</span>",
        human_size(bytes)
    )
}

/// The page's Content-Security-Policy: nothing from the network, the one script by its hash,
/// inline styles (bar widths), images only as data URIs.
pub fn content_security_policy() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
    format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; img-src data:; \
         form-action 'none'; base-uri 'none'"
    )
}

/// Renders the page.
pub fn render(s: &Summary, page: &Page) -> String {
    let mut h = String::with_capacity(64 * 1024 + s.files.len() * 700);
    let title = if page.title.is_empty() {
        "mir library report"
    } else {
        &page.title
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><style>{CSS}</style></head><body>\n",
        esc(&content_security_policy()),
        esc(title)
    );
    let _ = write!(h, "<header><h1>{}</h1><p>{}", esc(title), esc(&page.source));
    if !page.generated.is_empty() {
        let _ = write!(h, " · {}", esc(&page.generated));
    }
    h.push_str(" · made by <code>mir report</code></p></header>\n<main>\n");
    let base = common_dir(s);
    if !base.is_empty() {
        let _ = write!(
            h,
            "<p class=\"note\" id=\"base\">Paths below are relative to <code>{}</code></p>",
            esc(base)
        );
    }
    cards(&mut h, s);
    space_by_family(&mut h, s);
    totals(&mut h, s);
    duplicates(&mut h, s, base);
    misplaced(&mut h, s, base);
    abstained(&mut h, s, base);
    previews(&mut h, s, page);
    models(&mut h, s, page, base);
    folder_rules(&mut h);
    if !page.notes.is_empty() {
        let _ = write!(
            h,
            "<section id=\"notes\"><h2>Notes ({})</h2><ul>",
            page.notes.len()
        );
        for n in &page.notes {
            let _ = write!(h, "<li class=\"mono\">{}</li>", esc(n));
        }
        h.push_str("</ul></section>\n");
    }
    let _ = writeln!(h, "</main><script>{SCRIPT}</script></body></html>");
    h
}

/// The folder every file's path starts with (ending in `/`), so the page can show shorter paths;
/// empty when the paths share none.
fn common_dir(s: &Summary) -> &str {
    let Some(first) = s.files.first() else {
        return "";
    };
    let mut len = first.path.len();
    for f in &s.files[1..] {
        len = first
            .path
            .bytes()
            .zip(f.path.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let prefix = first.path.get(..len).unwrap_or("");
    match prefix.rfind('/') {
        Some(i) if i > 0 => &first.path[..=i],
        _ => "",
    }
}

/// `path` without the common folder.
fn rel<'a>(path: &'a str, base: &str) -> &'a str {
    match path.strip_prefix(base) {
        Some(r) if !base.is_empty() && !r.is_empty() => r,
        _ => path,
    }
}

fn cards(h: &mut String, s: &Summary) {
    let identified = s.identified();
    let card = |h: &mut String, id: &str, class: &str, value: String, label: &str| {
        let _ = write!(
            h,
            "<div class=\"card {class}\" id=\"{id}\"><b>{value}</b><small>{label}</small></div>"
        );
    };
    h.push_str("<div class=\"cards\">");
    card(h, "c-files", "", s.files.len().to_string(), "files");
    card(h, "c-size", "", size_html(s.total_bytes), "on disk");
    card(
        h,
        "c-identified",
        "ok",
        format!("{:.0}%", pct(identified as u64, s.files.len() as u64)),
        &format!("identified ({identified})"),
    );
    let dup = &s.duplicates;
    card(
        h,
        "c-wasted",
        if dup.wasted_bytes > 0 { "warn" } else { "" },
        size_html(dup.wasted_bytes),
        &format!("in {} duplicate group(s)", dup.identical.len()),
    );
    card(
        h,
        "c-misplaced",
        if s.misplaced.is_empty() { "" } else { "warn" },
        s.misplaced.len().to_string(),
        "in a folder for another kind",
    );
    card(
        h,
        "c-abstained",
        if s.abstained.is_empty() { "" } else { "bad" },
        s.abstained.len().to_string(),
        "not identified",
    );
    h.push_str("</div>\n");
}

fn space_by_family(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"space\"><h2>Disk space by family</h2>");
    if s.by_family.is_empty() {
        h.push_str("<p class=\"muted\">No files.</p></section>\n");
        return;
    }
    let max = s.by_family.first().map_or(0, |t| t.bytes);
    const SHOWN: usize = 15;
    let mut rest = Tally {
        name: String::new(),
        files: 0,
        bytes: 0,
    };
    for (i, t) in s.by_family.iter().enumerate() {
        if i >= SHOWN {
            rest.files += t.files;
            rest.bytes = rest.bytes.saturating_add(t.bytes);
            continue;
        }
        hbar(h, &esc(&t.name), t, max, s.total_bytes);
    }
    if rest.files > 0 {
        let label = format!("{} other families", s.by_family.len() - SHOWN);
        hbar(h, &label, &rest, max.max(rest.bytes), s.total_bytes);
    }
    h.push_str(
        "<p class=\"note\">Family: the model series, or for adapters (LoRA, ControlNet, VAE, \
         embeddings…) the base model they belong to. Files without a MIR ID are under (none).</p>\
         </section>\n",
    );
}

fn hbar(h: &mut String, label_html: &str, t: &Tally, max: u64, total: u64) {
    let _ = write!(
        h,
        "<div class=\"hbar\"><span class=\"lbl\" title=\"{label_html}\">{label_html} \
         <span class=\"muted\">({} file{})</span></span><div class=\"bar\"><i style=\"width:{:.2}%\">\
         </i></div><span class=\"n\">{} <span class=\"muted\">{:.0}%</span></span></div>",
        t.files,
        if t.files == 1 { "" } else { "s" },
        pct(t.bytes, max),
        size_html(t.bytes),
        pct(t.bytes, total)
    );
}

fn totals(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"totals\"><h2>Totals</h2><div class=\"grid\">");
    for (id, name, list) in [
        ("t-kind", "Kind", &s.by_kind),
        ("t-family", "Family", &s.by_family),
        ("t-base", "Base model", &s.by_base),
        ("t-precision", "Precision", &s.by_precision),
        ("t-status", "Status", &s.by_status),
    ] {
        let max = list.iter().map(|t| t.files).max().unwrap_or(0) as u64;
        let _ = write!(
            h,
            "<div><h3>{name}</h3><table class=\"tally\" id=\"{id}\"><tbody>"
        );
        for t in list {
            let _ = write!(
                h,
                "<tr><td title=\"{0}\">{0}</td><td class=\"n\">{1}</td><td style=\"width:30%\"><div class=\"bar\">\
                 <i style=\"width:{2:.2}%\"></i></div></td><td class=\"n\">{3}</td></tr>",
                esc(&t.name),
                t.files,
                pct(t.files as u64, max),
                size_html(t.bytes)
            );
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str(
        "</div><p class=\"note\">Kind: the second part of the MIR ID (<code>mir:model.lora.…</code> \
         is a lora). Base model: what an adapter needs, from its ID or, when the ID does not say, \
         the base its metadata or sidecar declares.</p></section>\n",
    );
}

fn duplicates(h: &mut String, s: &Summary, base: &str) {
    let d = &s.duplicates;
    let _ = write!(
        h,
        "<section id=\"dupes\"><h2>Duplicates: {} group{}, <span id=\"wasted\" data-bytes=\"{}\">{}</span> wasted</h2>",
        d.identical.len(),
        if d.identical.len() == 1 { "" } else { "s" },
        d.wasted_bytes,
        human_size(d.wasted_bytes)
    );
    h.push_str(match d.method {
        DupeMethod::Hashed => {
            "<p class=\"note\">Only files whose content is proven identical (same SHA-256 or \
             BLAKE3; files whose sizes collide were hashed, as <code>mir dupes</code> does) are \
             listed here. Hard links and symlinks to one file count once. Keeping one copy of \
             each group frees the space shown.</p>"
        }
        DupeMethod::RecordHashes => {
            "<p class=\"note\">From the whole-file hashes in the records (<code>mir scan --json \
             --hash sha256</code>): only files with the same SHA-256 or BLAKE3 are listed. Files \
             without a hash in the records were not compared.</p>"
        }
    });
    for g in &d.identical {
        let _ = write!(
            h,
            "<div class=\"group dupe\"><b>{} copies</b> of {} · <span class=\"wasted\" data-bytes=\"{}\">{}</span> wasted · \
             <code title=\"{}\">{}</code><ul>",
            g.paths.len(),
            size_html(g.size),
            g.wasted_bytes,
            human_size(g.wasted_bytes),
            esc(&g.hash),
            esc(g.hash.get(..16).unwrap_or(&g.hash))
        );
        for p in &g.paths {
            let _ = write!(h, "<li class=\"path mono\">{}</li>", esc(rel(p, base)));
        }
        h.push_str("</ul></div>");
    }
    if d.identical.is_empty() {
        h.push_str("<p>No proven duplicates.</p>");
    }
    if d.unhashed > 0 {
        let _ = write!(
            h,
            "<p class=\"note\">{} file{} had no hash and {} not compared{}.</p>",
            d.unhashed,
            if d.unhashed == 1 { "" } else { "s" },
            if d.unhashed == 1 { "was" } else { "were" },
            if d.method == DupeMethod::Hashed {
                " (a unique size cannot have a copy)"
            } else {
                ""
            }
        );
    }
    if !d.same_shape.is_empty() {
        let _ = write!(
            h,
            "<details><summary>Same architecture in another precision or container: {} group{} \
             (not copies: nothing here is proven equal, keep them unless you know)</summary>",
            d.same_shape.len(),
            if d.same_shape.len() == 1 { "" } else { "s" }
        );
        for g in &d.same_shape {
            h.push_str("<div class=\"group\"><ul>");
            for (path, size, format, precision) in &g.files {
                let _ = write!(
                    h,
                    "<li><span class=\"path mono\">{}</span> · {} · {} {}</li>",
                    esc(rel(path, base)),
                    size_html(*size),
                    esc(format.as_deref().unwrap_or("-")),
                    esc(precision.as_deref().unwrap_or("-"))
                );
            }
            if g.proven_different {
                h.push_str("<li class=\"muted\">contents proven different</li>");
            }
            h.push_str("</ul></div>");
        }
        h.push_str("</details>");
    }
    h.push_str("</section>\n");
}

fn misplaced(h: &mut String, s: &Summary, base: &str) {
    let _ = write!(
        h,
        "<section id=\"misplaced\"><h2>In a folder meant for another kind: {}</h2>",
        s.misplaced.len()
    );
    if s.misplaced.is_empty() {
        h.push_str(
            "<p>None found. Only files with a MIR ID under a folder named in the folder table \
             (below) are judged.</p></section>\n",
        );
        return;
    }
    h.push_str(
        "<table><thead><tr><th>File</th><th>Is</th><th>Sits in</th><th>Meant for</th>\
         <th>Belongs in</th></tr></thead><tbody>",
    );
    for m in &s.misplaced {
        let Some(f) = s.files.get(m.file) else {
            continue;
        };
        let _ = write!(
            h,
            "<tr class=\"misplaced\"><td class=\"path mono\">{}</td><td><span class=\"chip\">{}</span> \
             <code>{}</code></td><td><code>{}/</code> <span class=\"muted\">({})</span></td>\
             <td>{}</td><td>{}</td></tr>",
            esc(rel(&f.path, base)),
            esc(f.kind.as_deref().unwrap_or("-")),
            esc(f.mir.as_deref().unwrap_or("-")),
            esc(&m.folder),
            esc(&m.apps.join(", ")),
            esc(&m.meant_for.join(", ")),
            esc(&m.belongs_in.join(", "))
        );
    }
    h.push_str("</tbody></table></section>\n");
}

fn status_chip(st: Status) -> String {
    format!("<span class=\"chip s-{0}\">{0}</span>", st.word())
}

fn abstained(h: &mut String, s: &Summary, base: &str) {
    let _ = write!(
        h,
        "<section id=\"abstained\"><h2>Not identified: {}</h2>",
        s.abstained.len()
    );
    if s.abstained.is_empty() {
        h.push_str("<p>Every file has one MIR ID.</p></section>\n");
        return;
    }
    h.push_str(
        "<p class=\"note\"><code>mir</code> abstains rather than guess: no ID, only the \
         architecture (<code>mir:dev.*</code>, <code>….unknown</code>), several candidates or a \
         low confidence, or a file it could not read. The evidence says what it saw.</p>\
         <table><thead><tr><th>File</th><th>Status</th><th>ID / candidates</th><th>Evidence</th>\
         </tr></thead><tbody>",
    );
    for &i in &s.abstained {
        let Some(f) = s.files.get(i) else {
            continue;
        };
        let _ = write!(
            h,
            "<tr class=\"abstained\" data-status=\"{}\"><td class=\"path mono\">{}<br>\
             <span class=\"muted\">{} · {}</span></td><td>{}</td><td>",
            f.status.word(),
            esc(rel(&f.path, base)),
            esc(f.format.as_deref().unwrap_or("no format")),
            size_html(f.size),
            status_chip(f.status)
        );
        if let Some(m) = &f.mir {
            let _ = write!(h, "<code>{}</code>", esc(m));
        }
        for c in &f.candidates {
            let _ = write!(h, "<br><code class=\"muted\">{}</code>", esc(c));
        }
        if let Some(c) = f.confidence {
            let _ = write!(h, "<br><span class=\"muted\">confidence {c:.2}</span>");
        }
        h.push_str("</td><td>");
        if let Some(e) = &f.error {
            let _ = write!(h, "<b>{}</b>", esc(e));
        } else if f.evidence.is_empty() && f.findings.is_empty() {
            h.push_str("<span class=\"muted\">No rule matched: no evidence for any ID.</span>");
        }
        evidence_list(h, f);
        h.push_str("</td></tr>");
    }
    h.push_str("</tbody></table></section>\n");
}

fn evidence_list(h: &mut String, f: &FileRow) {
    const MAX: usize = 8;
    if f.evidence.is_empty() && f.findings.is_empty() {
        return;
    }
    h.push_str("<ul class=\"ev\">");
    for e in f.findings.iter() {
        let _ = write!(h, "<li><b>{}</b></li>", esc(e));
    }
    for e in f.evidence.iter().take(MAX) {
        let _ = write!(h, "<li>{}</li>", esc(e));
    }
    if f.evidence.len() > MAX {
        let _ = write!(h, "<li>… {} more</li>", f.evidence.len() - MAX);
    }
    h.push_str("</ul>");
}

fn previews(h: &mut String, s: &Summary, page: &Page) {
    let with: Vec<(&FileRow, &String)> = s
        .files
        .iter()
        .filter_map(|f| Some((f, page.previews.get(f.preview.as_deref()?)?)))
        .collect();
    if with.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<section id=\"previews\"><h2>Previews ({})</h2><div class=\"gallery\">",
        with.len()
    );
    for (f, uri) in with {
        let name = f.title.as_deref().unwrap_or(f.name());
        let _ = write!(
            h,
            "<figure><img src=\"{}\" alt=\"{}\" loading=\"lazy\"><figcaption>{}<br>\
             <span class=\"muted\">{}</span></figcaption></figure>",
            esc(uri),
            esc(name),
            esc(name),
            esc(f.mir.as_deref().unwrap_or("not identified"))
        );
    }
    h.push_str("</div></section>\n");
}

fn models(h: &mut String, s: &Summary, page: &Page, base: &str) {
    let _ = write!(
        h,
        "<section id=\"all\"><h2>Every file (<span id=\"shown\">{}</span> of {} shown)</h2>\
         <div class=\"filters\"><input id=\"q\" type=\"search\" placeholder=\"Filter: name, ID, \
         family, title, trigger word…\" aria-label=\"filter\"><select id=\"fstatus\" \
         aria-label=\"status\"><option value=\"\">any status</option>",
        s.files.len(),
        s.files.len()
    );
    for t in &s.by_status {
        let _ = write!(
            h,
            "<option value=\"{0}\">{0} ({1})</option>",
            esc(&t.name),
            t.files
        );
    }
    h.push_str(
        "</select><select id=\"fkind\" aria-label=\"kind\"><option value=\"\">any kind</option>",
    );
    for t in &s.by_kind {
        if t.name == crate::summary::NONE_LABEL {
            continue;
        }
        let _ = write!(
            h,
            "<option value=\"{0}\">{0} ({1})</option>",
            esc(&t.name),
            t.files
        );
    }
    h.push_str(
        "</select><span class=\"muted\">Click a column to sort.</span></div>\
         <div style=\"overflow-x:auto\"><table id=\"models\"><thead><tr>\
         <th data-key=\"name\">File</th><th data-key=\"kind\">Kind</th>\
         <th data-key=\"family\">Family</th><th data-key=\"base\">Base</th>\
         <th data-key=\"precision\">Precision</th><th data-key=\"size\" data-type=\"num\" class=\"n\">Size</th>\
         <th data-key=\"status\">Status</th><th data-key=\"mir\">MIR ID</th>\
         <th data-key=\"about\">About</th></tr></thead><tbody>",
    );
    for f in &s.files {
        let _ = write!(
            h,
            "<tr data-status=\"{}\" data-kind=\"{}\"><td data-v=\"{}\"><b class=\"path\">{}</b><br>\
             <span class=\"muted path mono\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"n\" data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td class=\"mono path\">{}",
            f.status.word(),
            esc(f.kind.as_deref().unwrap_or("")),
            esc(&f.name().to_lowercase()),
            esc(f.name()),
            esc(if f.folder() == base {
                ""
            } else {
                rel(f.folder(), base)
            }),
            esc(f.kind.as_deref().unwrap_or("")),
            esc(f.family.as_deref().unwrap_or("")),
            esc(f.base.as_deref().unwrap_or("")),
            esc(f.precision.as_deref().unwrap_or("")),
            f.size,
            size_html(f.size),
            f.status.word(),
            status_chip(f.status),
            esc(f.mir.as_deref().unwrap_or(""))
        );
        if let Some(c) = f.confidence {
            let _ = write!(h, " <span class=\"muted\">{c:.2}</span>");
        }
        h.push_str("</td><td>");
        let mut about = Vec::new();
        if let Some(t) = &f.title {
            about.push(format!("<b>{}</b>", esc(t)));
        }
        if let Some(a) = &f.author {
            about.push(format!("by {}", esc(a)));
        }
        if !f.trigger_words.is_empty() {
            let words: Vec<String> = f
                .trigger_words
                .iter()
                .take(8)
                .map(|w| format!("<span class=\"chip\">{}</span>", esc(w)))
                .collect();
            let label = if f.triggers_suggested {
                "<span class=\"muted\">suggested:</span> "
            } else {
                ""
            };
            about.push(format!("{label}{}", words.join(" ")));
        }
        if let Some(rank) = f.rank {
            about.push(format!("<span class=\"muted\">rank {rank}</span>"));
        }
        for p in &f.packaging {
            about.push(format!("<span class=\"chip\">{}</span>", esc(p)));
        }
        if let Some(air) = &f.air {
            about.push(format!("<code class=\"muted\">{}</code>", esc(air)));
        }
        if f.preview
            .as_ref()
            .is_some_and(|p| page.previews.contains_key(p))
        {
            about.push("<span class=\"muted\">preview</span>".to_owned());
        }
        h.push_str(&about.join("<br>"));
        h.push_str("</td></tr>\n");
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn folder_rules(h: &mut String) {
    h.push_str(
        "<section id=\"folders\"><details><summary>Folder table: which kinds each UI folder is \
         meant for</summary><table><thead><tr><th>App</th><th>Folder</th><th>Meant for</th>\
         </tr></thead><tbody>",
    );
    for r in FOLDER_RULES {
        let folder = match r.parent {
            Some(_) => format!("&lt;base&gt;/{}", esc(r.folder)),
            None => esc(r.folder),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{folder}/</code></td><td>{}</td></tr>",
            r.app,
            r.kinds.join(", ")
        );
    }
    h.push_str("</tbody></table></details></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Duplicates;
    use serde_json::json;

    #[test]
    fn file_strings_cannot_inject_markup() {
        let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'";
        let records = vec![json!({
            "path": format!("lib/checkpoints/{evil}.safetensors"),
            "format": "safetensors", "size": 5, "mir": format!("mir:model.lora.lora:{evil}"),
            "candidates": [evil], "evidence": [evil], "findings": [evil], "error": null,
            "about": {"title": {"value": evil, "source": evil},
                      "trigger_words": {"value": [evil], "source": "x"}},
            "packaging": [evil], "air": {"urn": evil}, "preview": evil
        })];
        let s = Summary::new(&records, Duplicates::from_records(&records));
        let mut page = Page {
            title: evil.into(),
            source: evil.into(),
            generated: evil.into(),
            notes: vec![evil.into()],
            ..Page::default()
        };
        page.previews
            .insert(evil.into(), "data:image/png;base64,AAAA".into());
        let html = render(&s, &page);
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the page's own script"
        );
        assert!(!html.contains("<img src=x"));
        assert_eq!(
            html.matches("onerror").count(),
            html.matches("&lt;img src=x onerror").count(),
            "every onerror is escaped text, never an attribute"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn the_script_hash_is_in_the_policy() {
        let html = render(&Summary::new(&[], Duplicates::default()), &Page::default());
        let hash =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
        assert!(html.contains(&format!("&#39;sha256-{hash}&#39;")));
        assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(html.contains("default-src &#39;none&#39;"), "no network");
        for external in ["http://", "https://", "src=\"//"] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn paths_are_shown_relative_to_the_common_folder() {
        let summary = |paths: &[&str]| {
            let records: Vec<serde_json::Value> = paths
                .iter()
                .map(|p| json!({"path": p, "size": 1}))
                .collect();
            Summary::new(&records, Duplicates::default())
        };
        assert_eq!(common_dir(&summary(&["m/a/b.st", "m/ab/c.st"])), "m/");
        assert_eq!(common_dir(&summary(&["/lib/loras/x.st"])), "/lib/loras/");
        assert_eq!(common_dir(&summary(&["x.st", "y.st"])), "");
        assert_eq!(common_dir(&summary(&["/x.st", "/y.st"])), "");
        assert_eq!(common_dir(&summary(&[])), "");
        assert_eq!(rel("m/a/b.st", "m/"), "a/b.st");
        assert_eq!(rel("/elsewhere/b.st", "m/"), "/elsewhere/b.st");
        assert_eq!(rel("m/", "m/"), "m/", "never an empty path");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(7 * 1024 * 1024 * 1024), "7.0 GiB");
        assert_eq!(human_size(u64::MAX), "16384.0 PiB");
    }
}
