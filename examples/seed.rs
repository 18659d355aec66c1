//! Seeds reference stacks into an AWS-compatible endpoint (e.g. moto_server),
//! for the demo snapshot and the benchmarks.
//!
//! cargo run --example seed -- --endpoint-url http://127.0.0.1:5000 --stacks 30 --drift

#[path = "../tests/support/seed.rs"]
#[allow(dead_code)]
mod seed;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

/// Seed N reference stacks; with --drift, some carry typical defects.
#[derive(Parser)]
struct Args {
    /// The endpoint to seed (a test server, never a real account).
    #[arg(long)]
    endpoint_url: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, default_value_t = 3)]
    stacks: usize,
    /// Give two of every three stacks one typical defect each.
    #[arg(long)]
    drift: bool,
    #[arg(long, default_value = "ref")]
    prefix: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let start = Instant::now();
    let clients = match seed::SeedClients::connect(&args.endpoint_url, &args.region).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("seed: {e:#}");
            return ExitCode::from(2);
        }
    };
    let specs = seed::demo_mix(args.stacks, args.drift, &args.prefix);
    for spec in &specs {
        match seed::seed_stack(&clients, spec).await {
            Ok(s) => {
                let defects: Vec<&str> = spec.defects.iter().map(|d| d.name()).collect();
                println!(
                    "{} {}",
                    s.pipeline_name,
                    if defects.is_empty() {
                        "compliant".to_string()
                    } else {
                        defects.join(",")
                    }
                );
            }
            Err(e) => {
                eprintln!("seed: stack {}: {e:#}", spec.prefix);
                return ExitCode::from(2);
            }
        }
    }
    eprintln!(
        "seeded {} stack(s) in {:.1}s",
        specs.len(),
        start.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
