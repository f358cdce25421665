// Moves keyboard and screen reader focus to a panel that needs reading first (the
// welcome panel on a member's first visit). The page works the same without it.
const target = document.querySelector("[data-focus-on-load]");
if (target) {
  target.focus();
}
