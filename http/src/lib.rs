//! The HTTP plumbing `catalog serve` and `catalog chiller-server` share: a listener that bounds
//! connections and requests ([`limits`]), and the bearer-token check every call of a server with
//! a token passes ([`bearer`]).

pub mod bearer;
pub mod limits;

pub use bearer::RequireBearer;
pub use limits::{bind, read_body, serve, BodyRefused, Limits};
