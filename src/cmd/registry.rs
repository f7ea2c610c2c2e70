//! The registry options `writ serve --bundle-url oci://...` and `writ bundle push` share:
//! credentials (the password from an environment variable or a file, never an argument) and
//! the registries reached over plain HTTP; and their `--ca-cert` roots.

use std::path::PathBuf;

use writ_server::oci::{Credentials, Registry};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct RegistryArgs {
    /// Log in to the registry (HTTP basic, or the registry's token flow) as USER; the password
    /// comes from `--oci-password-env` or `--oci-password-file`. Default: anonymous.
    #[arg(long, value_name = "USER")]
    oci_username: Option<String>,
    /// The environment variable holding the registry password.
    #[arg(
        long,
        value_name = "VAR",
        default_value = "WRIT_OCI_PASSWORD",
        conflicts_with = "oci_password_file"
    )]
    oci_password_env: String,
    /// A file holding the registry password (its first line).
    #[arg(long, value_name = "FILE")]
    oci_password_file: Option<PathBuf>,
    /// Reach this registry (`HOST[:PORT]`, as written in the reference) over plain HTTP
    /// instead of HTTPS; repeatable. Credentials still go only to loopback addresses over
    /// plain HTTP.
    #[arg(long, value_name = "HOST[:PORT]")]
    oci_insecure: Vec<String>,
}

/// The roots `https://` servers are verified against: the platform's and `--ca-cert FILE`'s.
/// A file that cannot be used is reported, and its `Err` is the usage exit code.
pub fn roots(ca_cert: Option<&std::path::Path>) -> Result<writ_agents::net::Roots, u8> {
    writ_agents::net::Roots::load(ca_cert).map_err(|e| {
        crate::output::error(e);
        crate::output::USAGE
    })
}

impl RegistryArgs {
    /// Whether any option was given (they only mean something with an `oci://` reference).
    pub fn given(&self) -> bool {
        self.oci_username.is_some()
            || self.oci_password_file.is_some()
            || !self.oci_insecure.is_empty()
    }

    /// The registry options, with the password read; the error is a usage error's message.
    pub fn registry(&self) -> Result<Registry, String> {
        let credentials = match &self.oci_username {
            None => None,
            Some(username) => {
                let password = match &self.oci_password_file {
                    Some(file) => std::fs::read_to_string(file)
                        .map_err(|e| {
                            format!(
                                "cannot read the registry password file `{}`: {e}",
                                file.display()
                            )
                        })?
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string(),
                    None => std::env::var(&self.oci_password_env).map_err(|_| {
                        format!(
                            "`--oci-username {username}` needs a password: set the environment \
                             variable `{}` (`--oci-password-env`) or give `--oci-password-file`",
                            self.oci_password_env
                        )
                    })?,
                };
                if password.is_empty() {
                    return Err(format!("the registry password for `{username}` is empty"));
                }
                Some(Credentials { username: username.clone(), password })
            }
        };
        Ok(Registry { credentials, insecure: self.oci_insecure.clone() })
    }
}
