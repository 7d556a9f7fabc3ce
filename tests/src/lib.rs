//! Drives the real Relevo window: starts `tauri-driver` (which starts
//! WebKitWebDriver, which starts the app binary) with an isolated data
//! folder, and hands out a WebDriver session.
//!
//! Needs: an X display (`DISPLAY`, Xvfb in CI), `tauri-driver` on PATH or in
//! `~/.cargo/bin`, `WebKitWebDriver`, and the app built with `cargo build -p
//! relevo-app` (or `RELEVO_APP_BINARY`). `./dev test` provides all of them.

use fantoccini::{Client, ClientBuilder, Locator};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use fantoccini;

/// The app binary under test.
pub fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("RELEVO_APP_BINARY") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/relevo-app")
}

fn tauri_driver() -> PathBuf {
    let home_bin = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin/tauri-driver"));
    match home_bin {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tauri-driver"),
    }
}

/// The passphrase the tests' devices are encrypted with: CI has no keyring,
/// so the app and the CLI take it from `RELEVO_PASSPHRASE`.
pub const PASSPHRASE: &str = "frase de prueba del puesto";

/// A device's store opened by the test, as the app and the CLI open it.
pub fn open_store(dir: &Path) -> relevo_store::Store {
    let (key, _) = relevo_store::keys::unlock_with_passphrase(dir, PASSPHRASE).expect("unlock");
    relevo_store::Store::open_dir(dir, &key).expect("open")
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A device for the app: its data folder and the folders WebKit keeps its
/// own state in (local storage holds the language choice), all temporary.
#[derive(Debug)]
pub struct Device {
    root: tempfile::TempDir,
}

impl Device {
    pub fn new() -> Self {
        Device {
            root: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("relevo")
    }

    /// Starts the app on this device, with an English system locale, and
    /// connects a WebDriver session.
    pub async fn launch(&self) -> Session {
        self.launch_with_locale("en_US.UTF-8").await
    }

    /// Starts the app with the given system locale (`LANG`).
    pub async fn launch_with_locale(&self, locale: &str) -> Session {
        self.start(locale, true).await
    }

    /// Starts the app as on a machine where no keyring answers and no
    /// `RELEVO_PASSPHRASE` is set: the app must ask for the passphrase.
    pub async fn launch_without_passphrase(&self) -> Session {
        self.start("en_US.UTF-8", false).await
    }

    /// Starts the app on a second data folder of the same machine (same
    /// user, same web view storage), named `folder` under the device.
    pub async fn launch_folder(&self, folder: &str, locale: &str) -> Session {
        self.start_in(&self.root.path().join(folder), locale, true, &[])
            .await
    }

    /// Starts the app with extra environment variables (for the launch
    /// benchmark's empty-window baseline).
    pub async fn launch_with_env(&self, locale: &str, env: &[(&str, &str)]) -> Session {
        self.start_in(&self.data_dir(), locale, true, env).await
    }

    async fn start(&self, locale: &str, passphrase: bool) -> Session {
        self.start_in(&self.data_dir(), locale, passphrase, &[])
            .await
    }

    async fn start_in(
        &self,
        data: &Path,
        locale: &str,
        passphrase: bool,
        env: &[(&str, &str)],
    ) -> Session {
        let app = app_binary();
        assert!(
            app.exists(),
            "the app is not built: {} (run `cargo build -p relevo-app`)",
            app.display()
        );
        let port = free_port();
        let native = free_port();
        let xdg = |name: &str| {
            let p = self.root.path().join(name);
            std::fs::create_dir_all(&p).expect("xdg dir");
            p
        };
        let mut driver = Command::new(tauri_driver());
        if passphrase {
            driver.env(relevo_store::keys::PASSPHRASE_ENV, PASSPHRASE);
        } else {
            // No session bus, so no keyring: the passphrase must be asked.
            driver.env_remove(relevo_store::keys::PASSPHRASE_ENV).env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", self.root.path().join("no-bus").display()),
            );
        }
        let driver = driver
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("RELEVO_DATA_DIR", data)
            .env("XDG_DATA_HOME", xdg("data"))
            .env("XDG_CONFIG_HOME", xdg("config"))
            .env("XDG_CACHE_HOME", xdg("cache"))
            .env("LANG", locale)
            .env("LC_ALL", locale)
            .env("LANGUAGE", locale.split('.').next().unwrap_or(locale))
            .env("MESA_SHADER_CACHE_DISABLE", "true")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tauri-driver (cargo install tauri-driver --locked)");
        let driver = DriverGuard(driver);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = serde_json::json!({
            "browserName": "wry",
            "tauri:options": { "application": app.to_string_lossy() }
        });
        let caps = caps.as_object().expect("object").clone();
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session with the app");
        Session {
            client: Some(client),
            _driver: driver,
        }
    }
}

impl Default for Device {
    fn default() -> Self {
        Device::new()
    }
}

/// Every process below `root` (children, grandchildren...), from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The command name is in parentheses and may contain spaces; the
            // parent pid is the second field after it.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            if let Some(ppid) = after
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok())
            {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// Stops tauri-driver with SIGTERM (SIGKILL would orphan WebKitWebDriver and
/// the app), then ends whatever it started that is still running, so no app
/// outlives its test.
#[derive(Debug)]
struct DriverGuard(Child);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        let family = descendants(self.0.id());
        let signal = |sig: &str, pid: u32| {
            let _ = Command::new("kill")
                .args([sig, &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM", self.0.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.0.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
        for pid in family {
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal("-KILL", pid);
            }
        }
    }
}

/// A WebDriver session on a running app. Call [`Session::quit`] to close the
/// app; dropping the session stops the driver in any case.
#[derive(Debug)]
pub struct Session {
    client: Option<Client>,
    _driver: DriverGuard,
}

impl Session {
    /// The app's process and every process it started (WebKit's web and
    /// network processes), found below the driver in /proc.
    pub fn app_processes(&self) -> Vec<u32> {
        let app = app_binary();
        let app = std::fs::canonicalize(&app).unwrap_or(app);
        let Some(main) = descendants(self._driver.0.id())
            .into_iter()
            .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == app))
        else {
            return Vec::new();
        };
        let mut all = vec![main];
        all.extend(descendants(main));
        all
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("session open")
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client()
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// Waits until `css` has text containing `needle`.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(el) = self.client().find(Locator::Css(css)).await {
                if let Ok(t) = el.text().await {
                    if t.contains(needle) {
                        return t;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{css} never contained {needle:?}; last text: {t:?}"
                    );
                }
            }
            assert!(Instant::now() < deadline, "{css} never appeared");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Types into a field, then checks the field holds exactly that text.
    ///
    /// Under load the window can receive the keyboard focus only after the
    /// test has started typing, and WebKitGTK then moves the focus to the
    /// page's `autofocus` field: keys typed meanwhile land there. So this
    /// first waits until the page has the focus, and types again (clearing
    /// first) when the field does not hold exactly the text; a field that
    /// still does not after three tries fails, naming the field.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for_window_focus().await;
        let el = self.wait_for(css).await;
        let mut value = String::new();
        for _ in 0..3 {
            el.clear()
                .await
                .unwrap_or_else(|e| panic!("clear {css}: {e}"));
            el.send_keys(text)
                .await
                .unwrap_or_else(|e| panic!("type into {css}: {e}"));
            value = el
                .prop("value")
                .await
                .unwrap_or_else(|e| panic!("value of {css}: {e}"))
                .unwrap_or_default();
            if value == text {
                return;
            }
        }
        assert_eq!(
            value, text,
            "typing into {css} did not leave exactly the text typed"
        );
    }

    /// Waits until the page has the keyboard focus (see [`Session::type_into`]).
    async fn wait_for_window_focus(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let focused = self
                .client()
                .execute("return document.hasFocus()", vec![])
                .await
                .map(|v| v == serde_json::json!(true))
                .unwrap_or(false);
            if focused {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Chooses an option of a `<select>` by its value. Clicking the option
    /// opens WebKitGTK's native popup menu, which closes asynchronously and
    /// can hand the focus back to an earlier field while the next one is
    /// being typed into; so the choice is made the way the page sees a
    /// person's choice: the value changes and a `change` event fires.
    pub async fn choose(&self, select_css: &str, value: &str) {
        self.wait_for(&format!("{select_css} option[value=\"{value}\"]"))
            .await;
        let script = r#"
            const [css, value] = arguments;
            const select = document.querySelector(css);
            select.focus();
            select.value = value;
            select.dispatchEvent(new Event('change', { bubbles: true }));
            return select.value;
        "#;
        let chosen = self
            .client()
            .execute(
                script,
                vec![serde_json::json!(select_css), serde_json::json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("choose {value} in {select_css}: {e}"));
        assert_eq!(
            chosen,
            serde_json::json!(value),
            "{select_css} has no option {value}"
        );
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client()
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// Saves a screenshot of the window under `artifacts/` at the workspace
    /// root (kept by CI) and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // Let the web view paint what the DOM already holds: on a loaded
        // machine a snapshot taken at once can show an earlier frame.
        let paint = "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));";
        let _ = self.client().execute_async(paint, vec![]).await;
        // WebKitGTK's driver takes the snapshot after the next presentation
        // update; with the plain renderer (the default without a GPU render
        // node) a page that no longer changes never has one, and the
        // snapshot waits forever. A one-pixel mark, almost transparent,
        // changes every 40 ms while the snapshot is taken.
        let tick = "let m = document.createElement('div'); m.id = 'relevo-paint-tick'; \
                    m.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none;z-index:2147483647'; \
                    document.body.appendChild(m); let n = 0; \
                    window.relevoPaintTick = setInterval(() => { n ^= 1; m.style.background = n ? 'rgba(0,0,0,0.01)' : 'rgba(0,0,0,0.02)'; }, 40);";
        let _ = self.client().execute(tick, vec![]).await;
        let png = self.client().screenshot().await.expect("screenshot");
        let untick = "clearInterval(window.relevoPaintTick); document.getElementById('relevo-paint-tick')?.remove();";
        let _ = self.client().execute(untick, vec![]).await;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Closes the window (the app exits) and the driver.
    pub async fn quit(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

/// A binary built beside the app (`relevo`, `relevo-hub`).
pub fn binary(name: &str) -> PathBuf {
    app_binary().with_file_name(name)
}

/// A real `relevo-hub` process on loopback, killed when dropped; its log
/// goes beside its database.
#[derive(Debug)]
pub struct Hub(Child);

impl Hub {
    pub fn start(db: &Path, port: u16) -> Hub {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(db.with_extension("log"))
            .expect("log");
        let child = Command::new(binary("relevo-hub"))
            .args(["serve", "--db"])
            .arg(db)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start relevo-hub (cargo build -p relevo-hub)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the hub did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Hub(child)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command line tool; its standard output, or a panic naming what
/// it printed on failure.
pub fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env(relevo_store::keys::PASSPHRASE_ENV, PASSPHRASE)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Waits until nothing matches `css`.
pub async fn wait_gone(s: &Session, css: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while s.count(css).await > 0 {
        assert!(
            Instant::now() < deadline,
            "{css} still shown after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A one-time invitation code from the hub's database (`org` may be empty).
pub fn invite(db: &Path, name: &str, role: &str, country: &str, org: &str) -> String {
    let db = db.to_str().expect("path");
    let mut args = vec![
        "invite",
        "--db",
        db,
        "--name",
        name,
        "--role",
        role,
        "--country",
        country,
        "--quiet",
    ];
    if !org.is_empty() {
        args.extend(["--org", org]);
    }
    run(&binary("relevo-hub"), &args).trim().to_owned()
}

/// A device driven by the `relevo` command line, enrolled with the hub at
/// `url` (whose database is `db`) in a folder `name` under `dir`; its data
/// folder.
pub fn enrolled_cli(
    dir: &Path,
    db: &Path,
    url: &str,
    name: &str,
    role: &str,
    country: &str,
) -> String {
    let data = dir.join(name);
    let data = data.to_str().expect("path").to_owned();
    let code = invite(db, name, role, country, "");
    run(
        &binary("relevo"),
        &["--data-dir", &data, "enrol", "--hub", url, "--code", &code],
    );
    data
}

/// Opens a crisis on a command-line device and sends it to the hub.
pub fn open_crisis(data: &str, name: &str, countries: &str) {
    let cli = binary("relevo");
    run(
        &cli,
        &[
            "--data-dir",
            data,
            "crisis",
            "open",
            "--name",
            name,
            "--countries",
            countries,
        ],
    );
    run(&cli, &["--data-dir", data, "sync"]);
}
