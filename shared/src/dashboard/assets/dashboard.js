// Keyhook dashboard: progressive enhancement only. Every page and form works without this
// script; with it, copy buttons copy, the email preview follows typing, keys are revealed in
// place, pages that are still changing refresh their details, and deletions ask first.
(function () {
  "use strict";
  var FRAGMENT = { "x-dashboard-fragment": "1" };

  // Copy buttons: data-copy holds the text, or data-copy-from names an element.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy],[data-copy-from]");
    if (!b) return;
    var text = b.getAttribute("data-copy");
    if (text === null) {
      var el = document.getElementById(b.getAttribute("data-copy-from"));
      text = el ? el.textContent.trim() : "";
    }
    if (!navigator.clipboard) return;
    navigator.clipboard.writeText(text).then(function () {
      var old = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = old; }, 1500);
    });
  });

  // Destructive buttons ask first (the server also refuses without the form's token).
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-confirm]");
    if (b && !window.confirm(b.getAttribute("data-confirm"))) e.preventDefault();
  });

  // The email preview: the product form is submitted to the preview frame as you type.
  document.querySelectorAll("[data-preview-button]").forEach(function (button) {
    var form = button.form;
    var timer = null;
    var refresh = function () {
      if (button.disabled) return;
      try { form.requestSubmit(button); } catch (err) { /* older browsers: the button still works */ }
    };
    form.addEventListener("input", function (e) {
      if (!e.target.closest("[data-preview-source]")) return;
      clearTimeout(timer);
      timer = setTimeout(refresh, 350);
    });
    form.addEventListener("change", function (e) {
      if (e.target.name === "customTemplate") refresh();
    });
    refresh();
  });

  // Revealing a license key: the key replaces the mask, without leaving the page.
  document.querySelectorAll("form[data-reveal]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      fetch(form.action, {
        method: "POST",
        headers: Object.assign({ "content-type": "application/x-www-form-urlencoded" }, FRAGMENT),
        body: new URLSearchParams(new FormData(form)).toString(),
        credentials: "same-origin"
      }).then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      }).then(function (html) {
        var target = document.getElementById(form.getAttribute("data-reveal"));
        target.innerHTML = html;
        form.hidden = true;
      }).catch(function () { form.submit(); });
    });
  });

  // Repeated rows (a product's prices): add a row, remove one. Without the script the form
  // always has an empty row, and clearing a row removes it.
  document.querySelectorAll("[data-add-row],[data-remove-row]").forEach(function (b) { b.hidden = false; });
  document.addEventListener("click", function (e) {
    var add = e.target.closest("[data-add-row]");
    if (add) {
      var rows = add.parentNode.querySelector("[data-rows]");
      var last = rows && rows.lastElementChild;
      if (!last) return;
      var copy = last.cloneNode(true);
      copy.classList.remove("has-error");
      copy.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      copy.querySelectorAll(".error").forEach(function (p) { p.remove(); });
      rows.appendChild(copy);
      copy.querySelector("input").focus();
      return;
    }
    var remove = e.target.closest("[data-remove-row]");
    if (remove) {
      var row = remove.closest("[data-row]");
      if (row.parentNode.children.length > 1) row.remove();
      else row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
    }
  });

  // Live sections: [data-poll] is fetched again every 1.5 s until the server's answer no
  // longer carries data-poll (the event is processed and its emails are sent or failed).
  var poll = function (el, tries) {
    if (!el.hasAttribute("data-poll") || tries > 80) return;
    setTimeout(function () {
      fetch(window.location.href, { headers: FRAGMENT, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var box = document.createElement("div");
          box.innerHTML = html;
          var next = box.firstElementChild;
          if (!next) return;
          el.replaceWith(next);
          poll(next, tries + 1);
        })
        .catch(function () { poll(el, tries + 1); });
    }, 1500);
  };
  document.querySelectorAll("[data-poll]").forEach(function (el) { poll(el, 0); });
})();
