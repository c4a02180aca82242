//! Builds `probe/glibc_resolv_probe.c`, the program that prints what glibc reads from a
//! resolv.conf file (`tests/glibc_resolv_conf`), on glibc targets only. Its path reaches the
//! tests as `GLIBC_RESOLV_PROBE`; when it cannot be built that variable says why instead,
//! starting with `unavailable: `.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    const SOURCE: &str = "probe/glibc_resolv_probe.c";
    println!("cargo:rerun-if-changed={SOURCE}");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let built = if os == "linux" && env == "gnu" {
        build(SOURCE)
    } else {
        Err(format!("not a glibc target ({os}-{env})"))
    };
    match built {
        Ok(path) => println!("cargo:rustc-env=GLIBC_RESOLV_PROBE={}", path.display()),
        Err(why) => {
            println!("cargo:warning=glibc resolv.conf probe not built: {why}");
            println!("cargo:rustc-env=GLIBC_RESOLV_PROBE=unavailable: {why}");
        }
    }
}

/// Compiles and links the probe with the C compiler `cc` picks for the target.
fn build(source: &str) -> Result<PathBuf, String> {
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?)
        .join("glibc-resolv-probe");
    let compiler = cc::Build::new()
        .opt_level(1)
        .warnings(true)
        .extra_warnings(true)
        .try_get_compiler()
        .map_err(|e| e.to_string())?;
    let mut command: Command = compiler.to_command();
    command.arg(source).arg("-o").arg(&out);
    let output = command
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", compiler.path()))?;
    if !output.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            compiler.path(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(out)
}
