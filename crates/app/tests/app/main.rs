//! Tests of the service as shipped: the deployment files against the settings, and the binary
//! itself (what it logs).

mod deploy;
mod secrets;
