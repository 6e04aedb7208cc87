//! The network page (`/explorer/network`): the authorities of the chain with what each did over the recent blocks (blocks in its turn, as a backup, slots it missed), and the peers of the node this server runs with what they last answered.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{AddressLink, Ago, Frame, grouped};

/// How many recent blocks the page looks at.
pub const WINDOW: u64 = 500;

/// One authority's recent work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityRow {
    pub address: String,
    pub key: String,
    /// This server's node proposes with this key.
    pub is_this_node: bool,
    pub in_turn: u64,
    pub as_backup: u64,
    pub missed: u64,
    pub recent: Vec<u64>,
    pub last_ms: Option<u64>,
}

/// One peer as this node last heard it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRow {
    pub url: String,
    pub height: Option<u64>,
    pub last_seen_ms: Option<u64>,
    pub error: Option<String>,
}

/// What the page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkView {
    pub chain_id: String,
    pub head: u64,
    pub block_time_ms: u64,
    pub max_reorg_depth: u64,
    /// The blocks looked at: `from..=head`.
    pub from: u64,
    pub authorities: Vec<AuthorityRow>,
    pub peers: Vec<PeerRow>,
}

#[server(prefix = "/ui")]
pub async fn fetch_network() -> Result<NetworkView, ServerFnError> {
    use types::Address;
    let node = crate::node()?;
    let genesis = node.genesis();
    let head = node.head().await.header.height;
    let from = head.saturating_sub(WINDOW - 1).max(1);
    let blocks: Vec<_> = node
        .store()
        .block_summaries(from, head)
        .await
        .map_err(crate::failed)?
        .into_iter()
        .map(|b| (b.height, b.proposer, b.timestamp_ms))
        .collect();
    let ours = node.authority();
    let authorities = chain::consensus::activity(genesis, &blocks)
        .into_iter()
        .map(|a| AuthorityRow {
            address: Address::of(&a.key).to_string(),
            key: a.key.to_hex(),
            is_this_node: ours == Some(a.key),
            in_turn: a.in_turn,
            as_backup: a.as_backup,
            missed: a.missed,
            recent: a.recent,
            last_ms: a.last_ms,
        })
        .collect();
    let peers = node
        .peer_status()
        .into_iter()
        .map(|p| PeerRow {
            url: p.url,
            height: p.height,
            last_seen_ms: p.last_seen_ms,
            error: p.error,
        })
        .collect();
    Ok(NetworkView {
        chain_id: genesis.chain_id.clone(),
        head,
        block_time_ms: genesis.params.block_time_ms,
        max_reorg_depth: genesis.params.max_reorg_depth,
        from,
        authorities,
        peers,
    })
}

/// The page.
#[component]
pub fn NetworkPage() -> impl IntoView {
    let network = Resource::new(|| (), |_| fetch_network());
    view! {
        <Frame title="Network">
            <h1 class="text-2xl font-bold">"Network"</h1>
            <Suspense fallback=|| view! { <p class="mt-6 text-muted">"Asking the node…"</p> }>
                {move || network.get().map(|result| match result {
                    Ok(network) => view! { <NetworkDetail network /> }.into_any(),
                    Err(_) => view! { <crate::NoNode /> }.into_any(),
                })}
            </Suspense>
        </Frame>
    }
}

#[component]
fn NetworkDetail(network: NetworkView) -> impl IntoView {
    let window = if network.head == 0 {
        "No blocks yet besides genesis.".to_owned()
    } else {
        format!(
            "Over the last {WINDOW} blocks at most ({} to {}). A missed slot is one of the authority's turns in which a backup made the block.",
            grouped(network.from),
            grouped(network.head)
        )
    };
    let authorities = network
        .authorities
        .into_iter()
        .map(|a| {
            let recent = a
                .recent
                .iter()
                .map(|h| view! { <a class="mr-2 underline" href=format!("/explorer/block/{h}")>{grouped(*h)}</a> })
                .collect_view();
            let last = match a.last_ms {
                Some(ms) => view! { <Ago ms /> }.into_any(),
                None => view! { <span class="text-muted">"none in the window"</span> }.into_any(),
            };
            view! {
                <tr class="border-b border-line/50" data-missed=a.missed>
                    <td class="py-2 pr-4">
                        <AddressLink address=a.address />
                        {a.is_this_node.then(|| view! { <span class="ml-2 rounded bg-brand/20 px-1.5 text-xs">"this node"</span> })}
                    </td>
                    <td class="py-2 pr-4 text-right tabular-nums">{a.in_turn}</td>
                    <td class="py-2 pr-4 text-right tabular-nums">{a.as_backup}</td>
                    <td class="py-2 pr-4 text-right tabular-nums">{a.missed}</td>
                    <td class="whitespace-nowrap py-2 pr-4">{recent}</td>
                    <td class="whitespace-nowrap py-2">{last}</td>
                </tr>
            }
        })
        .collect_view();
    let no_peers = network.peers.is_empty();
    let peers = network
        .peers
        .into_iter()
        .map(|p| {
            let state = match (&p.error, p.height) {
                (Some(error), _) => view! { <span class="text-red-600" title=error.clone()>"unreachable"</span> }.into_any(),
                (None, Some(_)) => view! { <span class="text-green-600">"answering"</span> }.into_any(),
                (None, None) => view! { <span class="text-muted">"not asked yet"</span> }.into_any(),
            };
            let seen = match p.last_seen_ms {
                Some(ms) => view! { <Ago ms /> }.into_any(),
                None => view! { <span class="text-muted">"never"</span> }.into_any(),
            };
            view! {
                <tr class="border-b border-line/50">
                    <td class="break-all py-2 pr-4 font-mono">{p.url}</td>
                    <td class="py-2 pr-4">{state}</td>
                    <td class="py-2 pr-4 text-right tabular-nums">{p.height.map(grouped).unwrap_or_default()}</td>
                    <td class="whitespace-nowrap py-2">{seen}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <dl class="mt-4 grid grid-cols-2 gap-4 text-sm sm:grid-cols-4">
            <div><dt class="text-muted">"Chain"</dt><dd class="break-all font-mono">{network.chain_id}</dd></div>
            <div><dt class="text-muted">"Head"</dt><dd class="font-semibold">{grouped(network.head)}</dd></div>
            <div><dt class="text-muted">"Slot"</dt><dd>{format!("{} ms", grouped(network.block_time_ms))}</dd></div>
            <div><dt class="text-muted">"Final after"</dt><dd>{format!("{} blocks", network.max_reorg_depth)}</dd></div>
        </dl>
        <h2 class="mt-8 text-lg font-semibold">"Authorities"</h2>
        <p class="mt-1 text-sm text-muted">{window}</p>
        <div class="mt-2 overflow-x-auto">
            <table id="network-authorities" class="w-full text-left text-sm">
                <thead class="border-b border-line text-muted">
                    <tr>
                        <th class="py-2 pr-4 font-medium">"Authority"</th>
                        <th class="py-2 pr-4 text-right font-medium">"In turn"</th>
                        <th class="py-2 pr-4 text-right font-medium">"As backup"</th>
                        <th class="py-2 pr-4 text-right font-medium">"Missed slots"</th>
                        <th class="py-2 pr-4 font-medium">"Recent blocks"</th>
                        <th class="py-2 font-medium">"Last block"</th>
                    </tr>
                </thead>
                <tbody>{authorities}</tbody>
            </table>
        </div>
        <h2 class="mt-8 text-lg font-semibold">"Peers of this node"</h2>
        {no_peers.then(|| view! { <p id="network-no-peers" class="mt-1 text-sm text-muted">"This node runs alone: it has no peers configured."</p> })}
        <div class="mt-2 overflow-x-auto">
            <table id="network-peers" class="w-full text-left text-sm">
                <thead class="border-b border-line text-muted">
                    <tr>
                        <th class="py-2 pr-4 font-medium">"Peer"</th>
                        <th class="py-2 pr-4 font-medium">"State"</th>
                        <th class="py-2 pr-4 text-right font-medium">"Its head"</th>
                        <th class="py-2 font-medium">"Last answer"</th>
                    </tr>
                </thead>
                <tbody>{peers}</tbody>
            </table>
        </div>
    }
}
