//! The dark/light theme: chosen by a cookie so the server renders the right colours on the first paint, toggled in the browser once hydrated.

use leptos::prelude::*;

/// Cookie that remembers the reader's theme for a year.
pub const THEME_COOKIE: &str = "aitbc_theme";

/// The two colour themes. Dark is the default, as on most block explorers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    #[default]
    Dark,
    Light,
}

impl Theme {
    /// Reads the theme from a `Cookie` request header value; anything unexpected means the default.
    pub fn from_cookie_header(header: &str) -> Self {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == THEME_COOKIE)
            .map(|(_, value)| {
                if value == "light" {
                    Theme::Light
                } else {
                    Theme::Dark
                }
            })
            .unwrap_or_default()
    }

    /// The class put on `<html>`; Tailwind's `dark:` variant keys on it.
    pub fn html_class(self) -> &'static str {
        match self {
            Theme::Dark => "dark",
            Theme::Light => "light",
        }
    }

    fn other(self) -> Self {
        match self {
            Theme::Dark => Theme::Light,
            Theme::Light => Theme::Dark,
        }
    }
}

/// The theme the page was rendered with: from context on the server, from `<html>` in the browser.
fn rendered_theme() -> Theme {
    #[cfg(feature = "hydrate")]
    {
        let dark = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .is_some_and(|html| html.class_list().contains("dark"));
        if dark { Theme::Dark } else { Theme::Light }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        use_context::<Theme>().unwrap_or_default()
    }
}

/// Switches `<html>`'s class and stores the choice in the cookie.
#[cfg(feature = "hydrate")]
fn apply(theme: Theme) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(html) = document.document_element() {
        let list = html.class_list();
        let _ = list.remove_1(theme.other().html_class());
        let _ = list.add_1(theme.html_class());
    }
    if let Ok(html_document) = document.dyn_into::<web_sys::HtmlDocument>() {
        let cookie = format!(
            "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            theme.html_class()
        );
        let _ = html_document.set_cookie(&cookie);
    }
}

/// The button in the header that flips the theme; it does nothing until the WASM has hydrated.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(rendered_theme());
    let flip = move |_| {
        let next = theme.get_untracked().other();
        theme.set(next);
        #[cfg(feature = "hydrate")]
        apply(next);
    };
    view! {
        <button
            id="theme-toggle"
            type="button"
            class="rounded-md border border-line px-3 py-1.5 text-sm hover:bg-raised"
            data-theme=move || theme.get().html_class()
            aria-label=move || match theme.get() {
                Theme::Dark => "Switch to the light theme",
                Theme::Light => "Switch to the dark theme",
            }
            on:click=flip
        >
            {move || match theme.get() {
                Theme::Dark => "Light",
                Theme::Light => "Dark",
            }}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_header_picks_the_theme() {
        let cases = [
            ("", Theme::Dark),
            ("aitbc_theme=light", Theme::Light),
            ("a=b; aitbc_theme=light; c=d", Theme::Light),
            ("aitbc_theme=dark", Theme::Dark),
            ("aitbc_theme=purple", Theme::Dark),
            ("xaitbc_theme=light", Theme::Dark),
        ];
        for (header, want) in cases {
            assert_eq!(Theme::from_cookie_header(header), want, "header {header:?}");
        }
    }
}
