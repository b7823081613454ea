// consentgate: click-to-load embeds without a reload. Without this file the buttons post the form.
(() => {
  const d = document;
  // The blocked iframe follows its placeholder: give it its source and show it.
  const load = (box) => {
    const frame = box.nextElementSibling;
    frame.src = frame.dataset.consentSrc;
    frame.hidden = false;
    box.remove();
    frame.focus();
  };
  d.addEventListener("submit", async (event) => {
    const form = event.target;
    const box = form.closest(".cg-embed");
    const button = event.submitter;
    if (!box || !button || form.busy) return;
    event.preventDefault();
    if (button.hasAttribute("data-once")) return load(box);
    form.busy = 1;
    try {
      const response = await fetch(form.getAttribute("action"), {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw 0;
      const name = box.dataset.consentEmbed;
      for (const other of d.querySelectorAll(`.cg-embed[data-consent-embed="${name}"]`)) load(other);
      // The provider's scripts the server held back (a player API) run now, as written.
      for (const old of d.querySelectorAll(`script[type="text/plain"][data-consent="${name}"]`)) {
        const s = d.createElement("script");
        for (const a of old.attributes) if (!/^(type|data-consent)/.test(a.name)) s.setAttribute(a.name, a.value);
        if (old.dataset.consentType) s.type = old.dataset.consentType;
        s.nonce = old.nonce;
        s.text = old.text;
        old.replaceWith(s);
      }
    } catch (_) {
      form.submit(); // the server answers as without JavaScript
    }
    form.busy = 0;
  });
})();
