// The console's only script: the user's time zone, the upload progress bar, and the live thread.
// Everything works without it but those three (pages are server-rendered HTML forms).
"use strict";

(function timeZone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const had = document.cookie.split("; ").find((c) => c.startsWith("jit_tz="));
  const value = encodeURIComponent(zone);
  if (!had || had.slice(7) !== value) {
    document.cookie = "jit_tz=" + value + "; path=/; SameSite=Lax; max-age=31536000";
    // Render once more in the user's zone (the first page came in UTC); never loops: the cookie now matches.
    if (!had && document.body && document.querySelector("time")) { location.reload(); }
  }
})();

async function sha256Hex(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function setupUpload() {
  const form = document.getElementById("upload-form");
  if (!form) { return; }
  const bar = document.getElementById("u-progress");
  const status = document.getElementById("u-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("u-file").files[0];
    if (!file) { status.textContent = "Choose a file first."; return; }
    const maxBytes = Number(form.dataset.maxMb) * 1024 * 1024;
    if (file.size > maxBytes) { status.textContent = "The file is larger than " + form.dataset.maxMb + " MB: upload it with the jit command."; return; }
    status.textContent = "Computing the file's SHA-256 digest…";
    const digest = await sha256Hex(file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.url);
    xhr.setRequestHeader("x-csrftoken", form.dataset.csrf);
    xhr.setRequestHeader("content-type", file.type || "application/octet-stream");
    xhr.setRequestHeader("x-sha256", digest);
    xhr.setRequestHeader("x-upload-id", crypto.randomUUID());
    xhr.setRequestHeader("x-filename", encodeURIComponent(file.name));
    xhr.setRequestHeader("x-description", encodeURIComponent(document.getElementById("u-description").value));
    if (document.getElementById("u-sensitive").checked) xhr.setRequestHeader("x-sensitive", "1");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) {
        const pct = Math.round((100 * e.loaded) / e.total);
        bar.value = pct;
        bar.textContent = pct + "%";
        status.textContent = "Uploading: " + pct + "%";
      }
    });
    xhr.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status === 201) {
        bar.value = 100;
        bar.textContent = "100%";
        status.textContent = "Received; the service verified its SHA-256 digest " + body.sha256 + ". ";
        const link = document.createElement("a");
        link.href = body.href;
        link.textContent = "Show it in the list of items";
        link.addEventListener("click", () => { setTimeout(() => location.reload(), 0); });
        status.appendChild(link);
        form.reset();
      } else {
        status.textContent = body.error || ("Refused (HTTP " + xhr.status + ").");
      }
    });
    xhr.addEventListener("error", () => { status.textContent = "The upload was interrupted: try again."; });
    status.textContent = "Uploading: 0%";
    xhr.send(file);
  });
}

function setupLive() {
  const list = document.getElementById("messages");
  if (!list || !list.dataset.live) { return; }
  const status = document.getElementById("live-status");
  const source = new EventSource(list.dataset.live + "?after=" + encodeURIComponent(list.dataset.after));
  source.addEventListener("open", () => { status.textContent = "Live: new messages appear as they are posted."; });
  source.addEventListener("message", (event) => {
    if (!document.getElementById("m-" + event.lastEventId)) {
      list.insertAdjacentHTML("beforeend", event.data);
    }
  });
  source.addEventListener("refused", (event) => { status.textContent = event.data; source.close(); });
  source.addEventListener("error", () => { status.textContent = "Connection lost: reconnecting…"; });
}

document.addEventListener("DOMContentLoaded", () => { setupUpload(); setupLive(); });
