// The bridge between a page and the wallet: injects provider.js into the page, forwards its
// requests (only those from the page itself) to the background script with the page's origin,
// and posts the answers back in the shape the provider reads.
(() => {
  "use strict";
  const api = globalThis.browser ?? globalThis.chrome;
  const script = document.createElement("script");
  script.src = api.runtime.getURL("provider.js");
  script.onload = () => script.remove();
  (document.head || document.documentElement).appendChild(script);

  window.addEventListener("message", async (event) => {
    if (event.source !== window || !event.data || event.data.type !== "AITBC_WALLET_REQUEST") return;
    const { id, method, params } = event.data;
    let answer;
    try {
      answer = await api.runtime.sendMessage({ kind: "request", method, params });
    } catch (error) {
      answer = { error: { code: "UNAVAILABLE", message: String(error && error.message || error) } };
    }
    window.postMessage({ type: "AITBC_WALLET_RESPONSE", id, result: answer.result, error: answer.error }, window.location.origin);
  });

  api.runtime.onMessage.addListener((message) => {
    if (message && message.kind === "event") {
      window.postMessage({ type: "AITBC_WALLET_EVENT", event: message.event, detail: message.detail }, window.location.origin);
    }
  });
})();
