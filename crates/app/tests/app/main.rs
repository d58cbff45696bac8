//! Tests of the service as shipped: the deployment files against the settings, and the binary
//! itself (what it needs beside it, what it logs).

mod anywhere;
mod deploy;
mod secrets;
mod support;
