// consentgate: the banner without reloads. Everything works without this file.
(() => {
  const d = document;
  const me = d.currentScript;
  if (window.consentgate || !me) return;
  const nonce = me.nonce; // what a strict CSP let in may start more
  const prefix = new URL("..", me.src).pathname.slice(0, -1);
  const meta = d.querySelector("meta[name=consentgate-granted]");
  let shown; // the banner or settings dialog on screen
  let back; // where focus was before
  let inert = [];

  const api = (window.consentgate = {
    categories: meta
      ? meta.content.split(" ").filter(String)
      : [...d.querySelectorAll(".cg-preferences-form [name=categories]:checked")].map((box) => box.value),
    open: () => show(),
  });

  // Parsed scripts never run: swap in fresh ones (in order, with our nonce).
  const run = (html, where) => {
    const t = d.createElement("template");
    t.innerHTML = html || "";
    for (const node of [...t.content.childNodes]) {
      const inner = node.querySelectorAll ? [node, ...node.querySelectorAll("script,style")] : [];
      for (const el of inner) if (el.localName == "style") el.nonce = nonce;
      where.append(node);
      for (const old of inner) {
        if (old.localName != "script") continue;
        const s = d.createElement("script");
        for (const a of old.attributes) s.setAttribute(a.name, a.value);
        s.text = old.text;
        s.nonce = nonce;
        s.async = old.hasAttribute("async");
        old.replaceWith(s);
      }
    }
  };

  const raise = (el, modal) => {
    back = d.activeElement;
    shown = el;
    el.tabIndex = -1;
    if (modal) {
      el.setAttribute("role", "dialog");
      el.setAttribute("aria-modal", "true");
      inert = [...d.body.children].filter((x) => x != el && !x.inert);
      for (const x of inert) x.inert = true;
    }
    el.focus({ preventScroll: true });
  };

  const close = () => {
    for (const x of inert) x.inert = false;
    inert = [];
    shown.remove();
    shown = null;
    if (back && back != d.body && back.isConnected) back.focus();
    else d.activeElement.blur();
  };

  const settle = (form, state, action) => {
    api.categories = state.granted;
    const status = d.querySelector("[data-saved]");
    if (!form.closest(".cg-banner")) {
      if (status) status.textContent = status.dataset.saved; // the preference centre's page
    } else {
      // Said once the banner is gone, in its language: what was saved.
      const said = shown.dataset;
      const titles = state.granted.map((c) => shown.querySelector(`[value="${c}"]~.cg-category-title`)?.textContent || c);
      const text = said.savedNone
        ? titles.length ? said.savedWith.replace("{categories}", titles.join(", ")) : said.savedNone
        : status?.dataset.saved;
      close();
      let live = d.querySelector(".cg-status");
      if (!live) {
        live = d.body.appendChild(d.createElement("p"));
        live.className = "cg-status";
        live.setAttribute("role", "status");
      }
      // Filled a moment after it is added, so screen readers announce it.
      setTimeout(() => (live.textContent = text), 99);
      if (state.consent_mode && window.gtag) gtag("consent", "update", state.consent_mode);
      // Withdrawn (only a reload stops it), or the server held back markup of this page.
      if (state.reload || (state.granted[0] && d.querySelector("[data-consent]"))) location.reload();
      else {
        run(state.snippets.head, d.head);
        run(state.snippets.body, d.body);
        if (state.settings_link && !d.getElementById("consentgate-settings")) {
          run(state.settings_link, d.body);
          link();
        }
        // Focus where the choice can be changed again, rather than lost on <body>.
        const again = d.getElementById("consentgate-settings");
        if (again && d.activeElement == d.body) again.focus();
      }
    }
    d.dispatchEvent(
      new CustomEvent("consentgate:change", { detail: { categories: state.granted, action } })
    );
  };

  const enhance = (form) => {
    form.querySelectorAll(".cg-declaration").forEach((part) => tie(part));
    form.addEventListener("submit", async (event) => {
      const button = event.submitter;
      if (!button || form.busy) return;
      event.preventDefault();
      form.busy = 1;
      const body = new URLSearchParams(new FormData(form));
      body.set("action", button.value);
      if (navigator.globalPrivacyControl) body.set("gpc", "1");
      try {
        // (form.action is the buttons named "action", not the attribute)
        const response = await fetch(form.getAttribute("action"), {
          method: "POST",
          body,
          headers: { Accept: "application/json" },
        });
        if (!response.ok) throw 0;
        settle(form, await response.json(), button.value);
      } catch (_) {
        // Post it the plain way: the server answers as without JavaScript.
        const field = d.createElement("input");
        field.type = "hidden";
        field.name = "action";
        field.value = button.value;
        form.append(field);
        form.submit();
      }
      form.busy = 0;
    });
  };

  // The banner while there is no choice; later, the preference centre in a dialog.
  const show = async () => {
    if (shown) return shown.focus();
    if (show.busy) return; // already on its way
    show.busy = 1;
    // In the language the page showed consentgate in (language_from may differ from Accept-Language).
    const lang = d.querySelector("#consentgate-settings,.cg-banner")?.lang || "";
    const url = `${prefix}/preferences?lang=${lang}&next=${encodeURIComponent(location.pathname + location.search)}`;
    try {
      const response = await fetch(url);
      if (!response.ok) throw 0;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const box = d.createElement("div");
      box.id = "consentgate-banner";
      box.className = "cg-banner cg-settings";
      box.lang = page.documentElement.lang;
      box.dataset.position = "dialog";
      box.setAttribute("aria-labelledby", "cg-settings-title");
      page.querySelector("h1").id = "cg-settings-title";
      box.append(...page.querySelector(".cg-main").childNodes);
      const form = box.querySelector("form");
      form.after(...box.querySelectorAll(".cg-controller,.cg-current")); // the choice first
      d.body.append(box);
      enhance(form);
      const leave = box.querySelector(".cg-back a");
      if (leave) leave.onclick = (e) => (e.preventDefault(), close());
      raise(box, 1);
    } catch (_) {
      location.assign(url);
    }
    show.busy = 0;
  };

  // A category's box sets its providers' boxes and follows them (all on: ticked, some: mixed).
  const tie = (part, from) => {
    const all = part.querySelector("[name=categories]");
    const each = [...part.querySelectorAll("[name=providers]")];
    if (!all) return;
    if (from == all) for (const b of each) b.checked = all.checked;
    else if (from) all.checked = each.every((b) => b.checked);
    all.indeterminate = !all.checked && each.some((b) => b.checked);
  };
  d.addEventListener("change", (e) => {
    const part = e.target.closest(".cg-declaration");
    if (part) tie(part, e.target);
  });

  const link = () => {
    const a = d.getElementById("consentgate-settings");
    if (a) a.onclick = (e) => (e.preventDefault(), show());
  };

  // Escape never answers the banner; it only closes a reopened settings dialog, unchanged.
  d.addEventListener("keydown", (event) => {
    if (!shown) return;
    const modal = shown.hasAttribute("aria-modal");
    if (event.key == "Escape" && shown.classList.contains("cg-settings")) close();
    if (event.key != "Tab" || !modal) return;
    const all = [...shown.querySelectorAll("a[href],button,input,summary,[tabindex='0']")].filter((x) => x.offsetParent);
    const at = d.activeElement;
    const [first, last] = [all[0], all[all.length - 1]];
    if (event.shiftKey ? at == first || at == shown : at == last) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    }
  });

  const banner = d.getElementById("consentgate-banner");
  if (banner) {
    enhance(banner.querySelector("form"));
    raise(banner, banner.dataset.position == "dialog");
  }
  for (const form of d.querySelectorAll(".cg-preferences-form")) enhance(form);
  link();
})();
