//! `panel1`: the one binary. `serve` runs everything in one process; `worker` runs only the
//! job workers (scale-out); `migrate` applies database migrations; `admin` holds the
//! operator's commands.

/// jemalloc instead of the system allocator: a listing page allocates a string per column
/// value, and glibc's malloc/free (with its chunk consolidation) was a fifth of `serve`'s CPU
/// under load; jemalloc took 420 → 335 µs per 50-client page on SQLite and kept idle memory
/// near 33 MB (bench/platform). mimalloc, tried before, doubled idle memory.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod cli;
mod keys;
mod run;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run::main(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
