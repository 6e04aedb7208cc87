//! The jobs page (`/explorer/jobs`): the coordinator's jobs as they are (state, miner, payment, receipt), newest first, a page at a time (`?page=N`); clients are not named.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Ago, Frame, short};

/// Jobs per page.
#[cfg(feature = "ssr")]
pub const PAGE: u64 = 25;

/// One job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRow {
    pub id: String,
    pub state: String,
    pub miner: Option<String>,
    pub requested_ms: u64,
    pub payment: Option<String>,
    pub receipt_id: Option<String>,
}

/// One page of jobs; `None` when this server runs no coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobsPage {
    pub page: u64,
    pub jobs: Vec<JobRow>,
    pub more: bool,
}

#[server(prefix = "/ui")]
pub async fn fetch_jobs(page: u64) -> Result<Option<JobsPage>, ServerFnError> {
    let Some(coordinator) = use_context::<coordinator::Coordinator>() else {
        return Ok(None);
    };
    let offset = i64::try_from(page.saturating_mul(PAGE)).unwrap_or(i64::MAX);
    let jobs = coordinator
        .store()
        .jobs_page(PAGE as i64 + 1, offset)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    let more = jobs.len() as u64 > PAGE;
    Ok(Some(JobsPage {
        page,
        more,
        jobs: jobs
            .into_iter()
            .take(PAGE as usize)
            .map(|j| JobRow {
                id: j.id,
                state: j.state.as_str().to_owned(),
                miner: j.assigned_miner_id,
                requested_ms: u64::try_from(j.requested_at).unwrap_or(0),
                payment: j.payment_status.map(|s| s.as_str().to_owned()),
                receipt_id: j.receipt_id,
            })
            .collect(),
    }))
}

/// The page.
#[component]
pub fn JobsPage() -> impl IntoView {
    let page = crate::page_number();
    let jobs = Resource::new(page, fetch_jobs);
    view! {
        <Frame title="Jobs">
            <h1 class="text-2xl font-bold">"Jobs"</h1>
            <Transition fallback=|| view! { <p class="mt-6 text-muted">"Asking the coordinator…"</p> }>
                {move || jobs.get().map(|result| match result {
                    Ok(Some(page)) => view! { <JobList page /> }.into_any(),
                    Ok(None) | Err(_) => view! {
                        <p id="jobs-none" class="mt-6 text-muted">"This server runs no coordinator, so there are no jobs to show."</p>
                    }.into_any(),
                })}
            </Transition>
        </Frame>
    }
}

#[component]
fn JobList(page: JobsPage) -> impl IntoView {
    if page.jobs.is_empty() && page.page == 0 {
        return view! { <p id="jobs-empty" class="mt-6 text-muted">"No job has been submitted yet."</p> }
            .into_any();
    }
    let pages = if page.more {
        page.page + 2
    } else {
        page.page + 1
    };
    let rows = page
        .jobs
        .into_iter()
        .map(|j| {
            view! {
                <tr class="border-b border-line/50" data-job=j.id.clone()>
                    <td class="whitespace-nowrap py-2 pr-4 font-mono" title=j.id.clone()>{short(&j.id)}</td>
                    <td class="py-2 pr-4">{j.state}</td>
                    <td class="whitespace-nowrap py-2 pr-4 font-mono">{j.miner.unwrap_or_else(|| "—".into())}</td>
                    <td class="py-2 pr-4">{j.payment.unwrap_or_else(|| "unpaid".into())}</td>
                    <td class="whitespace-nowrap py-2 pr-4 font-mono">{j.receipt_id.map(|r| short(&r)).unwrap_or_default()}</td>
                    <td class="whitespace-nowrap py-2"><Ago ms=j.requested_ms /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="mt-4 overflow-x-auto">
            <table id="jobs-list" class="w-full text-left text-sm">
                <thead class="border-b border-line text-muted">
                    <tr>
                        <th class="py-2 pr-4 font-medium">"Job"</th>
                        <th class="py-2 pr-4 font-medium">"State"</th>
                        <th class="py-2 pr-4 font-medium">"Miner"</th>
                        <th class="py-2 pr-4 font-medium">"Payment"</th>
                        <th class="py-2 pr-4 font-medium">"Receipt"</th>
                        <th class="py-2 font-medium">"Submitted"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <crate::Pager id="jobs" base="/explorer/jobs".to_owned() page=page.page pages />
    }
    .into_any()
}
