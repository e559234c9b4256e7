// The print buttons of the contact card and the printable file. A file of its own, not an
// onclick attribute: the Content-Security-Policy (infra/web/security_headers.py) runs no
// inline script.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
