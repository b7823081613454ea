/* consentgate: progressive enhancement of the consent banner and preference centre.
   Everything works without this file; with it, choices are sent in the background,
   newly granted providers start without a reload, and the page gets window.consentgate.
   Plain ES2017, no build step, no dependencies, no inline code (CSP-friendly). */
(() => {
  "use strict";
  const d = document;
  if (window.consentgate) return;
  const me = d.currentScript;
  // Scripts we start carry our own nonce, so a strict CSP admits them as it admitted us.
  const nonce = me && me.nonce;
  const prefix = new URL("..", me ? me.src : location.href).pathname.replace(/\/$/, "");
  const meta = d.querySelector('meta[name="consentgate-granted"]');
  const checked = ".cg-preferences-form input[name=categories]:checked";
  let shown = null; // the banner or settings dialog on screen
  let back = null; // where focus was before it opened
  let inerted = [];

  const api = (window.consentgate = {
    categories: meta
      ? meta.content.split(" ").filter(Boolean)
      : [...d.querySelectorAll(checked)].map((box) => box.value),
    open: () => show(),
  });

  // A script parsed from HTML never runs; a fresh element with the same attributes does.
  const live = (old) => {
    const script = d.createElement("script");
    for (const a of old.attributes) script.setAttribute(a.name, a.value);
    script.text = old.text;
    if (nonce) script.nonce = nonce;
    if (!old.hasAttribute("async")) script.async = false; // keep the snippets' order
    return script;
  };

  const run = (html, where) => {
    const t = d.createElement("template");
    t.innerHTML = html || "";
    for (const node of [...t.content.childNodes]) {
      const inner = node.querySelectorAll ? [node, ...node.querySelectorAll("script,style")] : [];
      for (const el of inner) if (el.localName === "style" && nonce) el.nonce = nonce;
      where.append(node);
      for (const el of inner) if (el.localName === "script") el.replaceWith(live(el));
    }
  };

  const focusables = (el) =>
    [...el.querySelectorAll("a[href],button,input,select,textarea,[tabindex]")].filter(
      (x) => x.tabIndex >= 0 && !x.disabled && x.getClientRects().length
    );

  const raise = (el, modal) => {
    back = d.activeElement;
    shown = el;
    el.tabIndex = -1;
    if (modal) {
      el.setAttribute("role", "dialog");
      el.setAttribute("aria-modal", "true");
      inerted = [...d.body.children].filter((x) => x !== el && !x.inert);
      for (const x of inerted) x.inert = true;
    }
    el.focus({ preventScroll: true });
  };

  const close = () => {
    if (!shown) return;
    for (const x of inerted) x.inert = false;
    inerted = [];
    shown.remove();
    shown = null;
    if (back && back !== d.body && back.isConnected) back.focus();
    else if (d.activeElement) d.activeElement.blur();
  };

  const emit = (action) =>
    d.dispatchEvent(
      new CustomEvent("consentgate:change", {
        detail: { categories: api.categories.slice(), action },
      })
    );

  const settle = (form, state, action) => {
    api.categories = state.granted;
    if (!form.closest(".cg-banner")) {
      // The preference centre's own page: nothing runs there; say it is saved.
      const status = d.querySelector("[data-saved]");
      if (status) status.textContent = status.dataset.saved;
      return emit(action);
    }
    close();
    if (state.reload) {
      emit(action);
      return location.reload();
    }
    run(state.snippets.head, d.head);
    run(state.snippets.body, d.body);
    if (state.consent_mode && typeof window.gtag === "function") {
      window.gtag("consent", "update", state.consent_mode);
    }
    if (state.settings_link && !d.getElementById("consentgate-settings")) {
      run(state.settings_link, d.body);
      link();
    }
    emit(action);
  };

  const enhance = (form) =>
    form.addEventListener("submit", async (event) => {
      const button = event.submitter;
      if (!button || !button.value || form.dataset.busy) return;
      event.preventDefault();
      form.dataset.busy = "1";
      const body = new URLSearchParams(new FormData(form));
      body.set("action", button.value);
      try {
        // form.action would be the buttons named "action", not the attribute.
        const response = await fetch(form.getAttribute("action"), {
          method: "POST",
          body,
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) throw new Error(response.status);
        settle(form, await response.json(), button.value);
      } catch (_) {
        // Let the server answer as it would without JavaScript (e.g. its error page).
        const field = d.createElement("input");
        field.type = "hidden";
        field.name = "action";
        field.value = button.value;
        form.append(field);
        form.submit();
      }
      delete form.dataset.busy;
    });

  // The settings: the banner while there is no choice, else the preference centre in a dialog.
  const show = async () => {
    if (shown) return shown.focus();
    const here = location.pathname + location.search;
    const url = `${prefix}/preferences?next=${encodeURIComponent(here)}`;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const main = page.querySelector(".cg-main");
      const box = d.createElement("div");
      box.id = "consentgate-banner";
      box.className = "cg-banner cg-settings";
      box.lang = page.documentElement.lang;
      box.dataset.position = "dialog";
      box.dataset.dismissible = "1";
      main.querySelector("h1").id = "consentgate-title";
      box.setAttribute("aria-labelledby", "consentgate-title");
      box.append(...main.childNodes);
      d.body.append(box);
      enhance(box.querySelector("form"));
      const leave = box.querySelector(".cg-back a");
      if (leave) leave.addEventListener("click", (e) => (e.preventDefault(), close()));
      raise(box, true);
    } catch (_) {
      location.assign(url);
    }
  };

  const link = () => {
    const a = d.getElementById("consentgate-settings");
    if (a) a.addEventListener("click", (e) => (e.preventDefault(), show()));
  };

  // Escape closes a reopened settings dialog without changing the choice; it never
  // answers the first banner, which stays until the visitor chooses.
  d.addEventListener("keydown", (event) => {
    if (!shown) return;
    if (event.key === "Escape" && shown.dataset.dismissible) close();
    if (event.key !== "Tab" || !shown.hasAttribute("aria-modal")) return;
    const all = focusables(shown);
    const first = all[0];
    const last = all[all.length - 1];
    const at = d.activeElement;
    if (event.shiftKey ? at === first || at === shown : at === last) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    }
  });

  const banner = d.getElementById("consentgate-banner");
  if (banner) {
    enhance(banner.querySelector("form"));
    raise(banner, banner.dataset.position === "dialog");
  }
  for (const form of d.querySelectorAll(".cg-preferences-form")) enhance(form);
  link();
})();
