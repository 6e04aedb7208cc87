//! The sites connected to the extension's wallet, listed in its popup with a button to revoke each (the background forgets the approval; the site must ask again). Nothing on the `/wallet/` page, which no site connects to.

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::{SECONDARY, host};

#[component]
pub fn ConnectedSites() -> impl IntoView {
    let sites = RwSignal::new(None::<Vec<String>>);
    let load = move || {
        leptos::task::spawn_local(async move {
            if let Ok(answer) = host::ask(&json!({ "kind": "approvals" })).await {
                let list = answer["result"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                sites.set(Some(list));
            }
        });
    };
    Effect::new(move |_| load());
    view! {
        {move || {
            sites
                .get()
                .map(|list| {
                    view! {
                        <h2 class="mt-8 text-xl font-semibold">"Connected sites"</h2>
                        <ul id="connected-sites" class="mt-2 divide-y divide-line text-sm">
                            {if list.is_empty() {
                                view! { <li class="py-2 text-muted">"None."</li> }.into_any()
                            } else {
                                list.into_iter()
                                    .map(|origin| {
                                        let revoke = {
                                            let origin = origin.clone();
                                            move |_| {
                                                host::tell(&json!({ "kind": "revoke", "origin": origin }));
                                                sites.update(|s| {
                                                    if let Some(s) = s {
                                                        s.retain(|o| *o != origin);
                                                    }
                                                });
                                            }
                                        };
                                        view! {
                                            <li class="flex items-center justify-between py-2" data-origin=origin.clone()>
                                                <span class="font-mono">{origin.clone()}</span>
                                                <button type="button" class=SECONDARY on:click=revoke>
                                                    "Revoke"
                                                </button>
                                            </li>
                                        }
                                    })
                                    .collect_view()
                                    .into_any()
                            }}
                        </ul>
                    }
                })
        }}
    }
}
