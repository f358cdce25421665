// Town boxes as an accessible combobox (ARIA 1.2 pattern), added on top of a plain text
// box that already works without JavaScript: the server resolves whatever is typed.
// Usage: <input data-place-autocomplete="/places/" data-place-id-name="town_place">
// Picking a place fills a hidden field (created if missing) with the place's id.

const MIN_LETTERS = 2;
const DELAY_MS = 200;
let counter = 0;

function hiddenFieldFor(input) {
  const name = input.dataset.placeIdName || `${input.name}_place`;
  const form = input.form;
  let hidden = form ? form.querySelector(`input[type="hidden"][name="${CSS.escape(name)}"]`) : null;
  if (!hidden) {
    hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = name;
    input.insertAdjacentElement("afterend", hidden);
  }
  return hidden;
}

function enhance(input) {
  if (input.dataset.placeReady) return;
  input.dataset.placeReady = "1";
  counter += 1;
  const endpoint = input.dataset.placeAutocomplete || "/places/";
  const listId = `place-list-${counter}`;
  const hidden = hiddenFieldFor(input);

  const wrapper = document.createElement("div");
  wrapper.className = "place-combo";
  input.parentNode.insertBefore(wrapper, input);
  wrapper.appendChild(input);

  const list = document.createElement("ul");
  list.id = listId;
  list.className = "place-combo__list";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Matching towns and villages");
  list.hidden = true;
  wrapper.appendChild(list);

  const status = document.createElement("div");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  wrapper.appendChild(status);

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listId);
  input.setAttribute("autocomplete", "off");

  let places = [];
  let active = -1;
  let timer = null;
  let lastQuery = "";
  let pending = null;

  function announce(text) {
    status.textContent = "";
    window.setTimeout(() => { status.textContent = text; }, 50);
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    const options = list.querySelectorAll("[role=option]");
    options.forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
    active = index;
    if (index >= 0 && options[index]) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function choose(index) {
    const place = places[index];
    if (!place) return;
    input.value = place.label;
    hidden.value = String(place.id);
    lastQuery = place.label;
    close();
    announce(`${place.label} chosen.`);
    input.dispatchEvent(new CustomEvent("place:chosen", { bubbles: true, detail: place }));
  }

  function render() {
    list.textContent = "";
    places.forEach((place, i) => {
      const option = document.createElement("li");
      option.id = `${listId}-${i}`;
      option.className = "place-combo__option";
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.textContent = place.label;
      option.addEventListener("mousedown", (event) => event.preventDefault());
      option.addEventListener("click", () => choose(i));
      list.appendChild(option);
    });
    if (places.length) {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      announce(`${places.length} ${places.length === 1 ? "place" : "places"} found. Use the up and down arrow keys to choose.`);
    } else {
      close();
      announce("No towns found. Check the spelling, or try the nearest bigger town.");
    }
    active = -1;
  }

  async function lookUp(query) {
    if (pending) pending.abort();
    pending = new AbortController();
    const url = `${endpoint}?${new URLSearchParams({ q: query, format: "json" })}`;
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: pending.signal,
      });
      if (!response.ok) return; // rate limited or offline: the plain form still works
      const data = await response.json();
      if (input.value.trim() !== query) return; // typed on since
      places = Array.isArray(data.places) ? data.places : [];
      render();
    } catch (error) {
      if (error.name !== "AbortError") close();
    }
  }

  input.addEventListener("input", () => {
    hidden.value = ""; // the text changed, so the picked place no longer applies
    const query = input.value.trim();
    window.clearTimeout(timer);
    if (query.length < MIN_LETTERS) {
      places = [];
      close();
      return;
    }
    if (query === lastQuery) return;
    timer = window.setTimeout(() => {
      lastQuery = query;
      lookUp(query);
    }, DELAY_MS);
  });

  input.addEventListener("keydown", (event) => {
    const open = !list.hidden;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!open && places.length) {
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
          highlight(event.altKey ? -1 : 0);
        } else if (open) {
          highlight(active + 1 >= places.length ? 0 : active + 1);
        }
        break;
      case "ArrowUp":
        event.preventDefault();
        if (!open && places.length) {
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
          highlight(places.length - 1);
        } else if (open) {
          highlight(active <= 0 ? places.length - 1 : active - 1);
        }
        break;
      case "Enter":
        if (open && active >= 0) {
          event.preventDefault(); // choosing is not submitting
          choose(active);
        }
        break;
      case "Escape":
        if (open) {
          event.preventDefault();
          close();
        } else if (input.value) {
          event.preventDefault();
          input.value = "";
          hidden.value = "";
        }
        break;
      case "Tab":
        close();
        break;
      default:
        break;
    }
  });

  input.addEventListener("blur", () => window.setTimeout(close, 150));
}

function enhanceAll(root = document) {
  if (!("fetch" in window)) return;
  root.querySelectorAll("input[data-place-autocomplete]").forEach(enhance);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => enhanceAll());
} else {
  enhanceAll();
}

export { enhanceAll };
