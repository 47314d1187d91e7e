//! Links the `catalog` executable at a fixed address rather than position-independent, on
//! Linux. A position-independent executable has the loader apply every one of its absolute
//! addresses at start (41,000 relocations here), writing each page of the tables that hold
//! them: `catalog --version` took 344 page faults so, 170 linked at a fixed address. Each
//! query is a process of its own, measured in milliseconds against plocate (BENCHMARKS.md).
//! Shared libraries, the stack and the heap keep their random addresses.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
