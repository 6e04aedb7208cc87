// The wallet extension's background: it answers the pages' requests (through content.js), keeps
// which sites the person approved (revocable), and for every connect, signature and transfer
// opens the popup (the wallet UI, where the keys are) to ask, naming the site. It holds no key.
"use strict";

/** Methods a site may call once connected, and whether each needs the person's approval. */
const ASKS = { connect: true, signMessage: true, sendTransaction: true, getAccount: false, getBalance: false };

/** The default node whose RPC answers balances (the one-process server). */
const DEFAULT_NODE = "http://127.0.0.1:8080";

/** Base units (digits) as decimal AITBC text (6 decimals, trailing zeros dropped): money is
 * never a float. */
function decimal(digits) {
  const units = BigInt(digits);
  const whole = units / 1000000n;
  const fraction = String(units % 1000000n).padStart(6, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : String(whole);
}

function createBackground(api) {
  const pending = new Map();
  let next = 1;
  // Changes to the approvals, one at a time: a connect finishing beside a revoke must not bring
  // the revoked site back.
  let changing = Promise.resolve();
  function changeApprovals(change) {
    const done = changing.then(async () => {
      const stored = await api.storage.local.get(["approvals"]);
      const approvals = stored.approvals || {};
      const extra = change(approvals) || {};
      await api.storage.local.set({ approvals, ...extra });
    });
    changing = done.catch(() => {});
    return done;
  }

  async function settings() {
    const stored = await api.storage.local.get(["approvals", "account", "node"]);
    return {
      approvals: stored.approvals || {},
      account: stored.account || null,
      node: stored.node || DEFAULT_NODE,
    };
  }

  function failure(code, message) {
    return { error: { code, message } };
  }

  /** Opens the popup for request `id` and waits for its answer (or its window closing). */
  function ask(origin, method, params) {
    const id = String(next++);
    return new Promise((resolve) => {
      pending.set(id, { origin, method, params, resolve, window: null });
      api.windows
        .create({ url: api.runtime.getURL(`popup.html#request=${id}`), type: "popup", width: 420, height: 680 })
        .then((win) => {
          const entry = pending.get(id);
          if (entry && win) entry.window = win.id;
        })
        .catch((error) => {
          pending.delete(id);
          resolve(failure("UNAVAILABLE", `the wallet could not open: ${error}`));
        });
    });
  }

  async function fromSite(origin, method, params) {
    if (typeof method !== "string" || !Object.hasOwn(ASKS, method)) {
      return failure("UNKNOWN_METHOD", `unknown method ${method}`);
    }
    const { approvals, account, node } = await settings();
    const approved = approvals[origin] === true;
    if (method === "connect") {
      if (approved && account) return { result: { success: true, address: account } };
      const answer = await ask(origin, "connect", {});
      if (answer.result && answer.result.address) {
        await changeApprovals((approvals) => {
          approvals[origin] = true;
          return { account: answer.result.address };
        });
        return { result: { success: true, address: answer.result.address } };
      }
      return answer;
    }
    if (!approved) return failure("NOT_CONNECTED", `${origin} is not connected: call connect() first`);
    if (method === "getAccount") return { result: { address: account } };
    if (method === "getBalance") {
      const address = (params && params.address) || account;
      try {
        const response = await fetch(`${node}/rpc/getBalance/${encodeURIComponent(address)}`);
        const text = await response.text();
        if (!response.ok) {
          const body = JSON.parse(text);
          return failure("BAD_REQUEST", (body.error && body.error.message) || `answer ${response.status}`);
        }
        // Read as digits, not as a JavaScript number, which is a float.
        const digits = (text.match(/"balance"\s*:\s*(\d+)/) || [])[1] || "0";
        return { result: { address, balance: decimal(digits), balance_base_units: digits, symbol: "AITBC" } };
      } catch (error) {
        return failure("UNAVAILABLE", `the node at ${node} cannot be reached`);
      }
    }
    return ask(origin, method, params || {});
  }

  async function fromWallet(message) {
    switch (message.kind) {
      case "pending": {
        const entry = pending.get(message.id);
        if (!entry) return failure("NOT_FOUND", "this request was answered or withdrawn");
        return { result: { id: message.id, origin: entry.origin, method: entry.method, params: entry.params } };
      }
      case "respond": {
        const entry = pending.get(message.id);
        if (!entry) return failure("NOT_FOUND", "this request was answered or withdrawn");
        pending.delete(message.id);
        entry.resolve(message.error ? { error: message.error } : { result: message.result });
        return { result: true };
      }
      case "account": {
        await api.storage.local.set({ account: message.address });
        const { approvals } = await settings();
        const tabs = api.tabs ? await api.tabs.query({}) : [];
        for (const tab of tabs) {
          try {
            const origin = new URL(tab.url || "about:blank").origin;
            if (approvals[origin]) {
              api.tabs.sendMessage(tab.id, { kind: "event", event: "accountsChanged", detail: { address: message.address } }).catch(() => {});
            }
          } catch (_) { /* a tab without a URL */ }
        }
        return { result: true };
      }
      case "approvals": {
        const { approvals } = await settings();
        return { result: Object.keys(approvals).filter((o) => approvals[o]) };
      }
      case "revoke": {
        await changeApprovals((approvals) => {
          delete approvals[message.origin];
        });
        return { result: true };
      }
      default:
        return failure("UNKNOWN_MESSAGE", `unknown message ${message.kind}`);
    }
  }

  /** Where a message comes from: the extension's own pages, or a site (by its origin). */
  function handle(message, sender) {
    if (!message || typeof message !== "object") return Promise.resolve(failure("BAD_REQUEST", "not a message"));
    const extensionPage = sender && sender.url && sender.url.startsWith(api.runtime.getURL(""));
    if (message.kind === "request" && !extensionPage) {
      let origin;
      try {
        origin = new URL(sender.url).origin;
      } catch (_) {
        return Promise.resolve(failure("BAD_REQUEST", "a request without its page"));
      }
      return fromSite(origin, message.method, message.params);
    }
    if (extensionPage) return fromWallet(message);
    return Promise.resolve(failure("FORBIDDEN", "only the wallet's own pages may do that"));
  }

  function closed(windowId) {
    for (const [id, entry] of pending) {
      if (entry.window === windowId) {
        pending.delete(id);
        entry.resolve(failure("REJECTED", "the person closed the wallet without answering"));
      }
    }
  }

  return { handle, closed };
}

const extensionApi = globalThis.browser ?? globalThis.chrome;
if (extensionApi && extensionApi.runtime && extensionApi.runtime.onMessage && !globalThis.AITBC_WALLET_TEST) {
  const background = createBackground(extensionApi);
  extensionApi.runtime.onMessage.addListener((message, sender) => background.handle(message, sender));
  if (extensionApi.windows && extensionApi.windows.onRemoved) {
    extensionApi.windows.onRemoved.addListener((id) => background.closed(id));
  }
}
globalThis.createBackground = createBackground;
