//! Builds the glibc resolver-state shim (`csrc/resolv_override.c`) on glibc targets only.

fn main() {
    println!("cargo:rerun-if-changed=csrc/resolv_override.c");
    println!("cargo::rustc-check-cfg=cfg(dnsload_glibc)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        cc::Build::new()
            .file("csrc/resolv_override.c")
            .warnings(true)
            .compile("dnsload_resolv_override");
        println!("cargo:rustc-cfg=dnsload_glibc");
    }
}
