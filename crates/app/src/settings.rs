//! Configuration: `config/default.toml`, then `config/<APP_ENV>.toml` when present, then
//! environment variables (after `.env` is loaded, by `main`). Environment variables keep the
//! previous service's names (`PORT`, `MONGODB_URI`, ...): each setting's key is its variable's
//! name in lower case.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// `PORT`: the HTTP port.
    pub port: u16,
    /// `BIND_ADDRESS`: the address to listen on.
    pub bind_address: String,
    /// `HTTP_WORKERS`: HTTP worker threads; 0 means one per CPU.
    pub http_workers: usize,
    /// `DATABASE_PATH`: the embedded store's file.
    pub database_path: PathBuf,
    /// `MONGODB_URI`: when set, the production MongoDB store instead of the embedded one.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub mongodb_uri: Option<String>,
    /// `STORAGE_TIMEOUT_MS`: how long a request waits for an unreachable store before it
    /// fails with 503 (MongoDB's server selection and connect timeouts, unless the URI sets them).
    pub storage_timeout_ms: u64,
}

fn empty_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<String>::deserialize(d)?;
    Ok(v.filter(|s| !s.trim().is_empty()))
}

/// Every setting, as the environment variable that sets it.
pub const VARIABLES: &[&str] = &[
    "PORT",
    "BIND_ADDRESS",
    "HTTP_WORKERS",
    "DATABASE_PATH",
    "MONGODB_URI",
];

impl Settings {
    /// Loads the layers from `config_dir` and the process environment.
    ///
    /// # Errors
    /// When a file cannot be read or a value has the wrong type; the message names the
    /// environment variable.
    pub fn load(config_dir: &Path) -> anyhow::Result<Self> {
        let env = std::env::var("APP_ENV").unwrap_or_else(|_| "development".to_owned());
        let mut builder = config::Config::builder()
            .add_source(config::File::from(config_dir.join("default.toml")).required(true))
            .add_source(config::File::from(config_dir.join(format!("{env}.toml"))).required(false));
        // Only our variables: the rest of the environment (PATH, HOME, ...) is none of ours.
        for var in VARIABLES {
            if let Ok(value) = std::env::var(var) {
                builder = builder
                    .set_override(var.to_lowercase(), value)
                    .with_context(|| format!("cannot read environment variable {var}"))?;
            }
        }
        let config = builder
            .build()
            .with_context(|| format!("cannot read configuration from {}", config_dir.display()))?;
        config.try_deserialize().map_err(|e| {
            let var = VARIABLES
                .iter()
                .find(|v| e.to_string().contains(&format!("\"{}\"", v.to_lowercase())))
                .or_else(|| {
                    VARIABLES
                        .iter()
                        .find(|v| e.to_string().contains(&v.to_lowercase()))
                });
            match var {
                Some(var) => anyhow::anyhow!("invalid value for {var}: {e}"),
                None => anyhow::anyhow!("invalid configuration: {e}"),
            }
        })
    }
}
