//! Staging through Chiller, EODC's tape recall service: what client and server exchange
//! ([`wire`]), the HTTP client, the local job ledger, the one reader of staging lists, the
//! check of a list before upload and the wait for its jobs ([`stage`]), and a
//! Chiller-compatible server for sites without one ([`server`], recalling through [`recall`]).
//!
//! Everything here takes plain option structs; the command line that fills them lives in the
//! `catalog` binary.

pub mod client;
pub mod ledger;
pub mod list;
pub mod recall;
pub mod server;
pub mod stage;
pub mod wire;

pub use client::{ChillerClient, ClientError, ClientOptions};
pub use stage::{prepare, submit, StageOptions};
pub use wire::JobStatus;
