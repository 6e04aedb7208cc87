//! The API reference at `/docs/api/{name}` (`coordinator`, `rpc`): every route of an OpenAPI document the server serves, with its method, summary, who may call it, parameters, body fields and answers, rendered on the server from the same documents that tests keep equal to the routers, with a filter once hydrated.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

/// The OpenAPI documents the server serves: `(name, JSON, where the raw document is)`.
#[derive(Clone, Copy, Debug)]
pub struct ApiDocuments(pub &'static [(&'static str, &'static str, &'static str)]);

/// One parameter or body field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    /// `path`, `query`, `header` or `body`.
    pub place: String,
    pub required: bool,
    pub about: String,
}

/// One route and method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub method: String,
    pub path: String,
    pub summary: String,
    /// Who may call it, in words.
    pub access: String,
    pub fields: Vec<Field>,
    /// `(status, what comes back)`.
    pub responses: Vec<(String, String)>,
}

/// A document as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiReference {
    pub title: String,
    pub description: String,
    pub bases: Vec<String>,
    pub raw: String,
    pub endpoints: Vec<Endpoint>,
}

/// The reference named `name`, if the server serves such a document.
#[server(prefix = "/ui")]
pub async fn fetch_reference(name: String) -> Result<Option<ApiReference>, ServerFnError> {
    let Some(docs) = use_context::<ApiDocuments>() else {
        return Ok(None);
    };
    let Some((_, json, raw)) = docs.0.iter().find(|(n, _, _)| *n == name) else {
        return Ok(None);
    };
    let doc: serde_json::Value =
        serde_json::from_str(json).map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(Some(reference(&doc, raw)))
}

/// Reads an OpenAPI 3 document into what the page lists.
#[cfg(feature = "ssr")]
fn reference(doc: &serde_json::Value, raw: &str) -> ApiReference {
    use serde_json::Value;
    // `{"$ref": "#/components/…"}` points elsewhere in the document.
    let resolve = |v: &'_ Value| -> Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => doc
                .pointer(r.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let global_security = doc.get("security").cloned().unwrap_or(Value::Null);
    let mut endpoints = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let mut fields: Vec<Field> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let p = resolve(p);
                    Field {
                        name: text(&p["name"]),
                        place: text(&p["in"]),
                        required: p["required"].as_bool().unwrap_or(false),
                        about: p["description"]
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| text(&p["schema"]["type"])),
                    }
                })
                .collect();
            let schema = resolve(&op["requestBody"]["content"]["application/json"]["schema"]);
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                fields.push(Field {
                    name: name.clone(),
                    place: "body".into(),
                    required: required.contains(&name.as_str()),
                    about: property["description"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| text(&property["type"])),
                });
            }
            let security = op.get("security").unwrap_or(&global_security);
            let schemes: Vec<String> = security
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_object()?.keys().next().cloned())
                .collect();
            let access = if schemes.is_empty() {
                "public".to_owned()
            } else {
                schemes
                    .iter()
                    .map(|s| match s.as_str() {
                        "ApiKey" => "X-Api-Key",
                        "Session" => "a wallet session (Bearer)",
                        other => other,
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(code, r)| (code.clone(), text(&resolve(r)["description"])))
                .collect();
            endpoints.push(Endpoint {
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(&op["summary"]),
                access,
                fields,
                responses,
            });
        }
    }
    ApiReference {
        title: text(&doc["info"]["title"]),
        description: text(&doc["info"]["description"]),
        bases: doc["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| text(&s["url"]))
            .collect(),
        raw: raw.to_owned(),
        endpoints,
    }
}

/// The page.
#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.with(|p| p.get("name").unwrap_or_default());
    let reference = Resource::new(name, fetch_reference);
    view! {
        <Title text="API reference" />
        <p class="text-sm"><a class="underline" href="/docs/">"← Documentation"</a></p>
        <Transition fallback=|| view! { <p class="mt-6 text-muted">"Reading the document…"</p> }>
            {move || reference.get().map(|result| match result {
                Ok(Some(reference)) => view! { <Reference reference /> }.into_any(),
                Ok(None) | Err(_) => view! {
                    <h1 class="mt-4 text-3xl font-bold">"API reference"</h1>
                    <p id="api-unknown" class="mt-4 text-muted">"There is no such API here. The references are "
                        <a class="underline" href="/docs/api/coordinator">"the coordinator's"</a>" and "
                        <a class="underline" href="/docs/api/rpc">"the chain node's"</a>"."</p>
                }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn Reference(reference: ApiReference) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let count = reference.endpoints.len();
    let endpoints = reference
        .endpoints
        .into_iter()
        .map(|e| {
            let key = format!("{} {}", e.method.to_lowercase(), e.path);
            let haystack = format!("{key} {}", e.summary).to_lowercase();
            let hidden = move || {
                let f = filter.get().to_lowercase();
                !f.is_empty() && !haystack.contains(f.trim())
            };
            view! { <EndpointView endpoint=e key hidden=Signal::derive(hidden) /> }
        })
        .collect_view();
    view! {
        <h1 class="mt-4 text-3xl font-bold">{reference.title}</h1>
        <p class="mt-3 max-w-3xl text-muted">{reference.description}</p>
        <p class="mt-3 text-sm">
            "Mounted under " <span class="font-mono">{reference.bases.join(", ")}</span>
            ". The document itself: " <a id="api-raw" class="underline font-mono" href=reference.raw.clone()>{reference.raw.clone()}</a>
            " (" {count} " routes)."
        </p>
        <input id="api-filter" type="search" placeholder="Filter routes (path, method or words)"
            class="mt-4 w-full max-w-md rounded border border-line bg-surface px-3 py-2 text-sm"
            prop:value=move || filter.get()
            on:input=move |ev| filter.set(event_target_value(&ev)) />
        <div id="api-endpoints" class="mt-6 space-y-4">{endpoints}</div>
    }
}

#[component]
fn EndpointView(endpoint: Endpoint, key: String, hidden: Signal<bool>) -> impl IntoView {
    let fields = (!endpoint.fields.is_empty()).then(|| {
        let rows = endpoint
            .fields
            .into_iter()
            .map(|f| {
                view! {
                    <tr class="border-b border-line/50">
                        <td class="py-1 pr-3 font-mono">{f.name}{f.required.then_some("*")}</td>
                        <td class="py-1 pr-3 text-muted">{f.place}</td>
                        <td class="py-1">{f.about}</td>
                    </tr>
                }
            })
            .collect_view();
        view! { <table class="mt-2 w-full text-left text-xs"><tbody>{rows}</tbody></table> }
    });
    let responses = endpoint
        .responses
        .into_iter()
        .map(|(code, what)| {
            view! { <li><span class="font-mono">{code}</span>" " {what}</li> }
        })
        .collect_view();
    view! {
        <article class="rounded border border-line p-4" data-route=key class:hidden=move || hidden.get()>
            <h2 class="font-mono text-sm font-semibold">
                <span class="mr-2 rounded bg-line/40 px-1.5 py-0.5">{endpoint.method}</span>{endpoint.path}
            </h2>
            <p class="mt-1 text-sm">{endpoint.summary}</p>
            <p class="mt-1 text-xs text-muted">"Who may call: " {endpoint.access}</p>
            {fields}
            <ul class="mt-2 space-y-0.5 text-xs">{responses}</ul>
        </article>
    }
}
