//! Staging through Chiller, EODC's tape recall service: the HTTP client, the local job ledger,
//! the pre-upload check of a list, and a Chiller-compatible server for sites without one.

pub mod client;
pub mod ledger;
pub mod recall;
pub mod server;
pub mod stage;

pub use client::{ChillerClient, JobStatus};
pub use stage::{prepare, submit, StageArgs};
