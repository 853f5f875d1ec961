// The admin's "API key created" page: clicking the key's field selects it, for copying.
// (A file, not an onclick attribute: the Content-Security-Policy allows no inline script.)
const field = document.getElementById("api-key");
if (field) {
  field.addEventListener("click", () => field.select());
}
