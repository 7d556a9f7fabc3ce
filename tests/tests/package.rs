//! The installed package: `./dev test` builds the `.deb`, installs it with
//! `apt install ./relevo_*.deb` and runs this against the installed binary
//! (`RELEVO_APP_BINARY`), with the package file in `RELEVO_DEB`. The window
//! opens on the demo; after the package is installed again (as an upgrade
//! does), what was recorded is still there, and the `relevo` command line
//! installed with it reads it.
//!
//! Ignored in a plain `cargo test`; only `./dev test` names it.

use relevo_e2e::{app_binary, Device, PASSPHRASE};
use std::process::Command;

/// Installs the package file again, as an upgrade replaces the files.
fn reinstall(deb: &str) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut cmd = if root {
        Command::new("dpkg")
    } else {
        let mut c = Command::new("sudo");
        c.arg("dpkg");
        c
    };
    let status = cmd.args(["-i", deb]).status().expect("dpkg");
    assert!(status.success(), "dpkg -i {deb} failed");
}

#[tokio::test]
#[ignore = "needs the installed .deb: run through ./dev test"]
async fn the_installed_package_opens_on_the_demo_and_keeps_the_data_across_an_upgrade() {
    let app = app_binary();
    assert!(
        app.starts_with("/usr"),
        "RELEVO_APP_BINARY must be the installed app, not {}",
        app.display()
    );
    let deb = std::env::var("RELEVO_DEB").expect("RELEVO_DEB: the package file");
    let device = Device::new();
    let s = device.launch_with_locale("es_GT.UTF-8").await;
    s.type_into("#setup-org", "OIM").await;
    s.type_into("#setup-name", "Ana López").await;
    s.choose("#setup-role", "field-coordinator").await;
    s.choose("#setup-country", "GT").await;
    s.click("#setup-submit").await;
    s.wait_for("li.request").await;
    s.type_into("#site", "Paquete instalado").await;
    s.type_into("#people-total", "7").await;
    s.type_into("#description", "Prueba del paquete").await;
    s.choose("#sector", "shelter").await;
    s.choose("#priority", "high").await;
    s.click("#submit-request").await;
    let saved = s.wait_for_text("#form-saved", "REQ-").await;
    let reference = saved
        .split_whitespace()
        .last()
        .expect("reference")
        .to_owned();
    s.screenshot("package-installed").await;
    s.quit().await;

    reinstall(&deb);

    let s = device.launch_with_locale("es_GT.UTF-8").await;
    s.wait_for_text(
        &format!("li.request[data-reference=\"{reference}\"]"),
        "Paquete instalado",
    )
    .await;
    s.quit().await;

    // The command line comes with the app, on the same data folder.
    let shown = Command::new("/usr/bin/relevo")
        .args(["request", "show", &reference])
        .env("RELEVO_DATA_DIR", device.data_dir())
        .env("RELEVO_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("run the installed relevo");
    let out = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success() && out.contains("Paquete instalado"),
        "relevo request show {reference}: {out}{}",
        String::from_utf8_lossy(&shown.stderr)
    );
}
