// Starts the wallet UI (WASM, the same code as the /wallet/ page) in the extension's popup, with
// the request it was opened for (if a site asked something) and a way to answer the background.
import init, { mount_popup } from "./wallet_ui.js";

const api = globalThis.browser ?? globalThis.chrome;
const send = (message) => api.runtime.sendMessage(message);

const { node } = await api.storage.local.get("node");
const id = new URLSearchParams(location.hash.slice(1)).get("request");
let request = null;
if (id) {
  const answer = await send({ kind: "pending", id });
  request = answer && answer.result ? answer.result : null;
}
await init();
mount_popup(node || "http://127.0.0.1:8080", request, send);
