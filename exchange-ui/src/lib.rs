//! The AITBC/BTC exchange UI (served at `/Exchange`); until the exchange runs it shows an empty order book and an order form that computes its total but places nothing.

mod decimal;

use leptos::prelude::*;
use leptos_meta::Title;

pub use decimal::{order_total_sats, parse_fixed};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Buy,
    Sell,
}

/// The exchange's home page.
#[component]
pub fn ExchangeHome() -> impl IntoView {
    let side = RwSignal::new(Side::Buy);
    let amount = RwSignal::new(String::new());
    let price = RwSignal::new(String::new());
    let total = move || match order_total_sats(&amount.get(), &price.get()) {
        Some(sats) => format!("{} BTC", decimal::format_sats(sats)),
        None => "—".to_string(),
    };
    let side_button = move |s: Side, id: &'static str, label: &'static str| {
        view! {
            <button
                id=id
                type="button"
                class="flex-1 rounded px-3 py-1.5 text-sm aria-pressed:bg-brand aria-pressed:text-white"
                aria-pressed=move || (side.get() == s).to_string()
                on:click=move |_| side.set(s)
            >
                {label}
            </button>
        }
    };
    view! {
        <Title text="Exchange" />
        <h1 class="text-3xl font-bold">"AITBC / BTC"</h1>
        <wallet_ui::SignIn />
        <div class="mt-6 grid gap-6 md:grid-cols-2">
            <section
                id="order-book-empty"
                class="rounded-lg border border-dashed border-line p-8 text-center text-muted"
            >
                <h2 class="text-lg font-semibold text-ink">"No orders"</h2>
                <p class="mt-2">
                    "The exchange does not run on this server yet, so the order book is empty and there are no trades."
                </p>
            </section>
            <form id="order-form" class="rounded-lg border border-line p-5" on:submit=|ev| ev.prevent_default()>
                <div role="group" aria-label="Side" class="flex gap-1 rounded-md border border-line p-1">
                    {side_button(Side::Buy, "side-buy", "Buy")}
                    {side_button(Side::Sell, "side-sell", "Sell")}
                </div>
                <label class="mt-4 block text-sm">
                    "Amount (AITBC)"
                    <input
                        id="order-amount"
                        inputmode="decimal"
                        class="mt-1 block w-full rounded-md border border-line bg-surface px-3 py-2 font-mono"
                        bind:value=amount
                    />
                </label>
                <label class="mt-4 block text-sm">
                    "Price (BTC per AITBC)"
                    <input
                        id="order-price"
                        inputmode="decimal"
                        class="mt-1 block w-full rounded-md border border-line bg-surface px-3 py-2 font-mono"
                        bind:value=price
                    />
                </label>
                <p class="mt-4 text-sm">"Total: " <span id="order-total" class="font-mono">{total}</span></p>
                <button
                    id="order-submit"
                    type="submit"
                    disabled
                    class="mt-4 w-full rounded-md bg-brand px-4 py-2 text-sm font-semibold text-white opacity-50"
                >
                    {move || match side.get() {
                        Side::Buy => "Buy AITBC (not available yet)",
                        Side::Sell => "Sell AITBC (not available yet)",
                    }}
                </button>
            </form>
        </div>
    }
}
