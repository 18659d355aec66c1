//! Writes a snapshot of N pipelines (copies of the bundled demo account
//! under distinct names), for measuring reports at scale, e.g. the HTML
//! report of 1,000 pipelines (scripts/browser-check.sh).
//!
//! cargo run --example big_snapshot -- 1000 big.json

#[path = "support/replicate.rs"]
mod replicate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .ok_or("usage: big_snapshot N FILE")?
        .parse()
        .map_err(|e| format!("N: {e}"))?;
    let out = args.next().ok_or("usage: big_snapshot N FILE")?;
    let s = replicate::demo_snapshot(n)?;
    s.save(std::path::Path::new(&out))?;
    eprintln!("{} pipeline(s) written to {out}", s.pipelines.len());
    Ok(())
}
