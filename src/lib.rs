//! `catalog`: index an earth-observation archive's file names, answer queries with complete file
//! lists, and stage them through a Chiller-compatible tape recall service.
//!
//! The binary (`main.rs`) parses the command line and maps errors to exit codes; everything else
//! lives here, so that tests reach the servers' routers in-process.

pub mod commands;
mod environment;
pub mod exit;
mod freshness;
mod progress;
mod sample;
pub mod serve;
mod shutdown;
