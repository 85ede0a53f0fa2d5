//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Panel1: domains, DNS and TLS certificates for hosting companies.
///
/// Settings come from defaults, then the file given with --config (TOML), then PANEL1_*
/// environment variables (see the README for the list).
#[derive(Debug, Parser)]
#[command(name = "panel1", version, propagate_version = true)]
pub struct Cli {
    /// A TOML settings file.
    #[arg(long, global = true, env = "PANEL1_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the HTTP API, the job workers, the event dispatcher and the scheduler.
    Serve,
    /// Runs only job workers, the event dispatcher and the scheduler (for scale-out).
    Worker,
    /// Runs only the built-in authoritative DNS server (UDP and TCP on PANEL1_DNS_ADDR),
    /// answering for the hosted zones and following changes other processes commit.
    Dns,
    /// Applies the database migrations that are not applied yet.
    Migrate,
    /// Operator commands.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Debug, Subcommand)]
pub enum Admin {
    /// Creates the first tenant and its operator if there are none, and prints a new API token
    /// for that operator as the last line of the output.
    Bootstrap {
        /// A name for the new token.
        #[arg(long, default_value = "bootstrap")]
        token_name: String,
    },
    /// Prints a new random master key (base64), for PANEL1_MASTER_KEY or the key file.
    GenKey,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
