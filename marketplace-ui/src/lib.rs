//! The GPU marketplace UI (served at `/marketplace/`); until the coordinator exists it shows an honest empty state with a working job-type filter.

use leptos::prelude::*;
use leptos_meta::Title;

/// The kinds of work an offer can serve, as the filter names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobFilter {
    /// Every offer.
    All,
    /// Offers that run LLM generation or chat.
    Llm,
    /// Offers that compute embeddings.
    Embeddings,
}

impl JobFilter {
    const ALL: [JobFilter; 3] = [JobFilter::All, JobFilter::Llm, JobFilter::Embeddings];

    fn label(self) -> &'static str {
        match self {
            JobFilter::All => "All",
            JobFilter::Llm => "LLM",
            JobFilter::Embeddings => "Embeddings",
        }
    }

    fn empty_text(self) -> &'static str {
        match self {
            JobFilter::All => "No GPU offers online.",
            JobFilter::Llm => "No GPU offers for LLM generation or chat online.",
            JobFilter::Embeddings => "No GPU offers for embeddings online.",
        }
    }
}

/// The marketplace's home page.
#[component]
pub fn MarketplaceHome() -> impl IntoView {
    let filter = RwSignal::new(JobFilter::All);
    view! {
        <Title text="Marketplace" />
        <h1 class="text-3xl font-bold">"GPU marketplace"</h1>
        <wallet_ui::SignIn />
        <div
            id="job-filter"
            role="group"
            aria-label="Job type"
            class="mt-6 inline-flex rounded-md border border-line p-1"
        >
            {JobFilter::ALL
                .into_iter()
                .map(|f| {
                    view! {
                        <button
                            type="button"
                            data-filter=f.label()
                            class="rounded px-3 py-1 text-sm aria-pressed:bg-brand aria-pressed:text-white"
                            aria-pressed=move || (filter.get() == f).to_string()
                            on:click=move |_| filter.set(f)
                        >
                            {f.label()}
                        </button>
                    }
                })
                .collect_view()}
        </div>
        <section
            id="offers-empty"
            class="mt-8 rounded-lg border border-dashed border-line p-8 text-center text-muted"
        >
            <h2 class="text-lg font-semibold text-ink">{move || filter.get().empty_text()}</h2>
            <p class="mt-2">
                "This server does not run the job coordinator yet. Offers appear here when miners register with it."
            </p>
        </section>
    }
}
