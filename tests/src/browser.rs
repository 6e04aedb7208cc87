//! A headless Chromium driven over the DevTools protocol, with every console message and uncaught exception of its pages recorded.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, bail};
use chromiumoxide::{
    Page,
    browser::BrowserConfig,
    cdp::{
        browser_protocol::log::{EnableParams as LogEnable, EventEntryAdded},
        js_protocol::runtime::{EventConsoleApiCalled, EventExceptionThrown},
    },
};
use futures::StreamExt;

/// One message a page wrote to its console, or an exception it threw.
#[derive(Clone, Debug)]
pub struct ConsoleEntry {
    pub level: String,
    pub text: String,
}

/// A browser process; closed when dropped.
pub struct Browser {
    inner: chromiumoxide::Browser,
    _profile: tempfile::TempDir,
}

/// A page (tab) and what its console said.
pub struct Tab {
    pub page: Page,
    console: Arc<Mutex<Vec<ConsoleEntry>>>,
}

/// Where browser tests write screenshots for people to look at: `AITBC_SCREENSHOTS`, or
/// `target/screenshots` in the workspace.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("AITBC_SCREENSHOTS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"),
        PathBuf::from,
    )
}

fn chromium_path() -> PathBuf {
    std::env::var_os("AITBC_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

impl Browser {
    /// Launches headless Chromium with a fresh profile and the given window size.
    pub async fn launch(width: u32, height: u32) -> anyhow::Result<Self> {
        let profile = tempfile::tempdir()?;
        let path = chromium_path();
        if !path.is_file() {
            bail!(
                "Chromium is not installed at {}; `./x setup --browser` installs it",
                path.display()
            );
        }
        let config = BrowserConfig::builder()
            .chrome_executable(path)
            .user_data_dir(profile.path())
            .no_sandbox()
            .new_headless_mode()
            .window_size(width, height)
            // No emulated viewport: the page sees the window's size, as on a real device.
            .viewport(None)
            .arg("--disable-gpu")
            .arg("--disable-dev-shm-usage")
            .arg("--disable-background-networking")
            .arg("--disable-component-update")
            .arg("--disable-sync")
            .arg("--no-first-run")
            .build()
            .map_err(anyhow::Error::msg)?;
        let (inner, mut handler) = chromiumoxide::Browser::launch(config)
            .await
            .context("cannot launch Chromium")?;
        tokio::spawn(async move { while handler.next().await.is_some() {} });
        Ok(Browser {
            inner,
            _profile: profile,
        })
    }

    /// Opens a blank tab that records its console, then navigates it to `url`.
    pub async fn open(&self, url: &str) -> anyhow::Result<Tab> {
        let page = self.inner.new_page("about:blank").await?;
        let tab = attach(page).await?;
        tab.page.goto(url).await?;
        Ok(tab)
    }
}

/// Records the console of `page`.
async fn attach(page: chromiumoxide::Page) -> anyhow::Result<Tab> {
    let console = Arc::new(Mutex::new(Vec::new()));
    page.execute(LogEnable::default()).await?;
    let mut calls = page.event_listener::<EventConsoleApiCalled>().await?;
    let mut exceptions = page.event_listener::<EventExceptionThrown>().await?;
    let mut logs = page.event_listener::<EventEntryAdded>().await?;
    let sink = console.clone();
    tokio::spawn(async move {
        loop {
            let entry = tokio::select! {
                Some(e) = calls.next() => ConsoleEntry {
                    level: format!("{:?}", e.r#type).to_lowercase(),
                    text: e.args.iter().filter_map(|a| a.value.as_ref().map(ToString::to_string)).collect::<Vec<_>>().join(" "),
                },
                Some(e) = exceptions.next() => ConsoleEntry {
                    level: "exception".into(),
                    text: e.exception_details.exception.as_ref().and_then(|x| x.description.clone()).unwrap_or_else(|| e.exception_details.text.clone()),
                },
                Some(e) = logs.next() => ConsoleEntry {
                    level: format!("{:?}", e.entry.level).to_lowercase(),
                    text: e.entry.text.clone(),
                },
                else => break,
            };
            sink.lock().expect("console lock").push(entry);
        }
    });
    Ok(Tab { page, console })
}

impl Tab {
    /// Evaluates a JavaScript expression and returns its value.
    pub async fn eval<T: serde::de::DeserializeOwned>(&self, js: &str) -> anyhow::Result<T> {
        self.page
            .evaluate(js)
            .await?
            .into_value()
            .with_context(|| format!("evaluating {js}"))
    }

    /// Waits until `js` evaluates to true, polling every 50 ms, for at most `timeout`.
    pub async fn wait_for(&self, js: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.eval::<bool>(js).await.unwrap_or(false) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "`{js}` still false after {timeout:?}; console: {:?}",
                    self.console()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the WASM bundle to hydrate the page.
    pub async fn hydrated(&self) -> anyhow::Result<()> {
        self.wait_for(
            "document.body.dataset.hydrated === 'true'",
            Duration::from_secs(20),
        )
        .await
    }

    /// Clicks the element matching `selector`.
    pub async fn click(&self, selector: &str) -> anyhow::Result<()> {
        self.page
            .find_element(selector)
            .await
            .with_context(|| format!("no element {selector}"))?
            .click()
            .await?;
        Ok(())
    }

    /// Types `text` into the element matching `selector`, as a person would.
    pub async fn type_into(&self, selector: &str, text: &str) -> anyhow::Result<()> {
        let element = self
            .page
            .find_element(selector)
            .await
            .with_context(|| format!("no element {selector}"))?;
        element.click().await?.type_str(text).await?;
        Ok(())
    }

    /// Chooses the file at `path` in the file input matching `selector`, as a person picking
    /// it would (the page gets its `change` event).
    pub async fn choose_file(&self, selector: &str, path: &std::path::Path) -> anyhow::Result<()> {
        let element = self
            .page
            .find_element(selector)
            .await
            .with_context(|| format!("no element {selector}"))?;
        let params = chromiumoxide::cdp::browser_protocol::dom::SetFileInputFilesParams::builder()
            .file(path.display().to_string())
            .backend_node_id(element.backend_node_id)
            .build()
            .map_err(anyhow::Error::msg)?;
        self.page.execute(params).await?;
        Ok(())
    }

    /// The text content of the element matching `selector`.
    pub async fn text(&self, selector: &str) -> anyhow::Result<String> {
        let js = format!("document.querySelector({selector:?})?.textContent ?? null");
        self.eval::<Option<String>>(&js)
            .await?
            .with_context(|| format!("no element {selector}"))
    }

    /// Saves a PNG of the whole page (not only the window) as `name`.png in [`screenshot_dir`],
    /// and returns its path.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{name}.png"));
        let params = chromiumoxide::page::ScreenshotParams::builder()
            .full_page(true)
            .build();
        self.page.save_screenshot(params, &path).await?;
        Ok(path)
    }

    /// Lets the page at `origin` read and write the clipboard, as a person allowing it would.
    pub async fn grant_clipboard(&self, origin: &str) -> anyhow::Result<()> {
        use chromiumoxide::cdp::browser_protocol::browser::{
            PermissionDescriptor, PermissionSetting, SetPermissionParams,
        };
        for name in ["clipboard-read", "clipboard-write"] {
            let params = SetPermissionParams::builder()
                .permission(
                    PermissionDescriptor::builder()
                        .name(name)
                        .build()
                        .map_err(anyhow::Error::msg)?,
                )
                .setting(PermissionSetting::Granted)
                .origin(origin.trim_end_matches('/'))
                .build()
                .map_err(anyhow::Error::msg)?;
            self.page.execute(params).await?;
        }
        self.page.bring_to_front().await?;
        Ok(())
    }

    /// How much wider than the window the page is, in CSS pixels (0 when nothing sticks out).
    pub async fn horizontal_overflow(&self) -> anyhow::Result<i64> {
        self.eval("document.documentElement.scrollWidth - window.innerWidth")
            .await
    }

    /// Everything the console said so far.
    pub fn console(&self) -> Vec<ConsoleEntry> {
        self.console.lock().expect("console lock").clone()
    }

    /// Console entries that a reader's developer tools would flag: errors, warnings, exceptions,
    /// and anything mentioning hydration.
    pub fn problems(&self) -> Vec<ConsoleEntry> {
        self.console()
            .into_iter()
            .filter(|e| {
                matches!(
                    e.level.as_str(),
                    "error" | "warning" | "warn" | "exception" | "assert"
                ) || e.text.to_lowercase().contains("hydrat")
            })
            .collect()
    }
}
