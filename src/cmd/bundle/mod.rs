//! `writ bundle ...`: what is done with a built bundle (docs/bundles.md). `writ bundle push`
//! publishes one to an OCI registry, for `writ serve --bundle-url oci://...`.

pub mod push;

use clap::Subcommand;

/// `writ bundle push ...`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BundleCommand,
}

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Publish a bundle (`writ build`) to an OCI registry as a writ bundle artifact, for
    /// `writ serve --bundle-url oci://...`; prints the manifest digest that pins it.
    Push(Box<push::Args>),
}

pub fn run(command: BundleCommand) -> u8 {
    match command {
        BundleCommand::Push(args) => push::run(&args),
    }
}
