//! Every UI path hydrates in a real browser: the theme toggle and each UI's own control change the page, the theme persists, and the console stays clean.

use std::time::Duration;

use tests::{Browser, Server, Site, Tab};

const WAIT: Duration = Duration::from_secs(10);

/// Clicks the theme toggle and checks that `<html>` switched theme.
async fn flips_theme(tab: &Tab) -> anyhow::Result<String> {
    let before: String = tab.eval("document.documentElement.className").await?;
    tab.click("#theme-toggle").await?;
    let want = if before == "dark" { "light" } else { "dark" };
    tab.wait_for(
        &format!("document.documentElement.className === '{want}'"),
        WAIT,
    )
    .await?;
    Ok(want.to_owned())
}

fn assert_clean_console(path: &str, tab: &Tab) {
    let problems: Vec<_> = tab
        .problems()
        .into_iter()
        // The browser logs the 404 status of the not-found page itself; that one is expected.
        .filter(|e| !(path == "/no-such-page" && e.text.contains("status of 404")))
        .collect();
    assert!(
        problems.is_empty(),
        "console problems on {path}: {problems:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_path_hydrates_and_its_controls_work() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let browser = Browser::launch(1280, 900).await?;
    let mut theme = "dark".to_owned();

    for path in [
        "/",
        "/explorer/",
        "/marketplace/",
        "/Exchange",
        "/wallet/",
        "/docs/",
        "/docs/api/coordinator",
        "/no-such-page",
    ] {
        let tab = browser.open(&server.at(path)).await?;
        tab.hydrated().await?;
        // The server rendered the theme the previous page chose: the cookie persisted it.
        let rendered: String = tab.eval("document.documentElement.className").await?;
        assert_eq!(rendered, theme, "theme rendered on {path}");
        theme = flips_theme(&tab).await?;

        match path {
            "/explorer/" => {
                assert!(
                    tab.text("#explorer-search-hint")
                        .await?
                        .starts_with("Search by")
                );
                tab.type_into("#explorer-search-input", "1234").await?;
                tab.wait_for("document.querySelector('#explorer-search-hint').textContent === 'Block height 1234'", WAIT)
                    .await?;
                tab.click("#explorer-search button[type=submit]").await?;
                tab.wait_for(
                    "location.pathname === '/explorer/search' && document.querySelector('#explorer-not-found') !== null",
                    WAIT,
                )
                .await?;
            }
            "/marketplace/" => {
                tab.click("#job-filter [data-filter=LLM]").await?;
                tab.wait_for(
                    "document.querySelector('#offers-empty h2').textContent.includes('LLM')",
                    WAIT,
                )
                .await?;
                let pressed: String =
                    tab.eval("document.querySelector('#job-filter [data-filter=LLM]').getAttribute('aria-pressed')").await?;
                assert_eq!(pressed, "true");
            }
            "/Exchange" => {
                tab.click("#side-sell").await?;
                tab.wait_for(
                    "document.querySelector('#order-submit').textContent.startsWith('Sell')",
                    WAIT,
                )
                .await?;
                tab.type_into("#order-amount", "100").await?;
                tab.type_into("#order-price", "0.00001").await?;
                tab.wait_for(
                    "document.querySelector('#order-total').textContent === '0.00100000 BTC'",
                    WAIT,
                )
                .await?;
            }
            "/wallet/" => {
                tab.click("#wallet-tab-import").await?;
                tab.wait_for(
                    "document.querySelector('[data-panel=import]') !== null",
                    WAIT,
                )
                .await?;
                assert_eq!(
                    tab.eval::<String>(
                        "document.querySelector('#wallet-tab-import').getAttribute('aria-selected')"
                    )
                    .await?,
                    "true"
                );
            }
            "/docs/api/coordinator" => {
                tab.type_into("#api-filter", "gpu/list").await?;
                tab.wait_for(
                    "document.querySelectorAll('#api-endpoints article').length > 40 && [...document.querySelectorAll('#api-endpoints article')].filter(a => a.offsetParent !== null).length === 1",
                    WAIT,
                )
                .await?;
            }
            "/no-such-page" => {
                assert!(tab.text("#not-found h1").await?.contains("Page not found"));
            }
            _ => {}
        }
        assert_clean_console(path, &tab);
        tab.page.close().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn navigation_between_uis_is_client_side() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let browser = Browser::launch(1280, 900).await?;
    let tab = browser.open(&server.at("/")).await?;
    tab.hydrated().await?;
    // A full page load would lose this marker; the router's navigation keeps it.
    tab.eval::<bool>("(window.__aitbc_marker = true)").await?;
    tab.click("header nav a[href='/marketplace/']").await?;
    tab.wait_for("document.querySelector('#offers-empty') !== null", WAIT)
        .await?;
    assert_eq!(
        tab.eval::<String>("location.pathname").await?,
        "/marketplace/"
    );
    assert!(
        tab.eval::<bool>("window.__aitbc_marker === true").await?,
        "the page was reloaded"
    );
    assert_eq!(
        tab.eval::<String>("document.title").await?,
        "Marketplace · AITBC"
    );
    assert_clean_console("/ → /marketplace/", &tab);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn phones_get_a_menu_instead_of_the_bar() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let browser = Browser::launch(390, 844).await?;
    let tab = browser.open(&server.at("/explorer/")).await?;
    tab.hydrated().await?;
    let visible = |selector: &str| {
        format!("getComputedStyle(document.querySelector({selector:?})).display !== 'none'")
    };
    assert!(
        !tab.eval::<bool>(&visible("header nav.md\\:flex")).await?,
        "desktop bar shown on a phone"
    );
    assert!(
        tab.eval::<bool>(&visible("header details")).await?,
        "no menu on a phone"
    );
    tab.click("header details summary").await?;
    tab.wait_for(
        "document.querySelector('header details').open === true",
        WAIT,
    )
    .await?;
    tab.click("header details a[href='/wallet/']").await?;
    tab.wait_for("location.pathname === '/wallet/'", WAIT)
        .await?;
    assert_clean_console("/explorer/ (phone)", &tab);
    Ok(())
}

/// The other builds of the bundle hydrate and work as well.
async fn bundle_hydrates(site: Site) -> anyhow::Result<()> {
    let server = Server::start_with(site).await?;
    let browser = Browser::launch(1280, 900).await?;
    let tab = browser.open(&server.at("/marketplace/")).await?;
    tab.hydrated().await?;
    flips_theme(&tab).await?;
    tab.click("#job-filter [data-filter=Embeddings]").await?;
    tab.wait_for(
        "document.querySelector('#offers-empty h2').textContent.includes('embeddings')",
        WAIT,
    )
    .await?;
    assert_clean_console(&format!("/marketplace/ ({site:?})"), &tab);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_debian_route_bundle_hydrates_too() -> anyhow::Result<()> {
    bundle_hydrates(Site::DebianRoute).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_release_bundle_hydrates_too() -> anyhow::Result<()> {
    bundle_hydrates(Site::Release).await
}
