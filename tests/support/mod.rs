//! Shared test support: the moto harness, seeding, and insta settings.
#![allow(dead_code)]

pub mod moto;
pub mod proxy;
pub mod seed;

/// insta settings with snapshots stored in the top-level `snapshots/` folder.
pub fn insta_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}
