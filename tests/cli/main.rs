//! One integration-test binary that drives the real `accord` binary on
//! temporary ledgers. Modules by area; helpers in `support`.

mod support;

// It reads what mimalloc writes: the builds that .cargo/config.toml names
// start it only where they allocate with it (src/main.rs).
#[cfg(all(target_os = "linux", target_env = "gnu", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod allocator;
mod audit;
mod core;
// It reads /proc and signals processes.
#[cfg(target_os = "linux")]
mod crash;
mod damage;
mod durability;
mod help;
mod logshow;
// It reads peak memory from wait4.
#[cfg(target_os = "linux")]
mod memory;
mod numbers;
mod outputs_panel;
mod outputs_spells;
// It starts servers with `serve`'s helpers.
#[cfg(target_os = "linux")]
mod page;
mod proofs;
// It runs accord in a pseudo-terminal (util-linux `script`).
#[cfg(target_os = "linux")]
mod progress;
mod projections;
// It signals the servers it starts.
#[cfg(target_os = "linux")]
mod serve;
mod torture;
mod trust;
