// mimalloc: evaluation builds and drops many small values; the system
// allocator made malloc/free the largest item of its profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    pipeaudit::commands::main()
}
