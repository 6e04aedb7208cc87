// The page's side of the AITBC wallet: window.aitbcWallet with the earlier methods (isAvailable,
// connect, getAccount, getBalance, sendTransaction, signMessage, request) and an
// "aitbcAccountsChanged" event. Each call is posted to the content script and answered by id.
(() => {
  "use strict";
  if (window.aitbcWallet) return;
  const pending = new Map();
  let next = 1;

  window.addEventListener("message", (event) => {
    if (event.source !== window || !event.data) return;
    const data = event.data;
    if (data.type === "AITBC_WALLET_RESPONSE" && pending.has(data.id)) {
      const { resolve, reject, timer } = pending.get(data.id);
      pending.delete(data.id);
      clearTimeout(timer);
      if (data.error) {
        const error = new Error(data.error.message || String(data.error));
        error.code = data.error.code;
        reject(error);
      } else {
        resolve(data.result);
      }
    } else if (data.type === "AITBC_WALLET_EVENT" && data.event === "accountsChanged") {
      window.dispatchEvent(new CustomEvent("aitbcAccountsChanged", { detail: data.detail }));
    }
  });

  // Approvals wait for a person: five minutes before a call gives up.
  const TIMEOUT_MS = 5 * 60 * 1000;

  function request({ method, params } = {}) {
    return new Promise((resolve, reject) => {
      const id = `${Date.now()}-${next++}`;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error("the wallet did not answer in time"));
      }, TIMEOUT_MS);
      pending.set(id, { resolve, reject, timer });
      window.postMessage({ type: "AITBC_WALLET_REQUEST", id, method, params: params ?? {} }, window.location.origin);
    });
  }

  const wallet = Object.freeze({
    isAvailable: () => true,
    connect: () => request({ method: "connect" }),
    getAccount: () => request({ method: "getAccount" }),
    getBalance: (address) => request({ method: "getBalance", params: { address } }),
    sendTransaction: (to, amount, data) => request({ method: "sendTransaction", params: { to, amount: String(amount), data } }),
    signMessage: (message) => request({ method: "signMessage", params: { message } }),
    request,
  });
  Object.defineProperty(window, "aitbcWallet", { value: wallet, writable: false, configurable: false });
  window.dispatchEvent(new Event("aitbcWalletReady"));
})();
