// The consultation's search page: loads the static Pagefind index published next to the pages
// (no search server) and lists the responses that hold the words in `?q=`, each with an excerpt
// and a link to its page. Words come from the page's `data-` attributes, in its language.
// Excerpts are built as text nodes (only Pagefind's <mark> is kept), never as HTML: they come
// from what submitters sent.

const box = document.getElementById("search");
const input = document.getElementById("search-q");
const status = document.getElementById("search-status");
const covers = document.getElementById("search-covers");
const list = document.getElementById("search-results");
const words = box.dataset;

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
}

// Pagefind's excerpt is HTML: keep its text and its <mark>s, drop everything else.
function excerpt(html) {
  const parsed = new DOMParser().parseFromString(`<p>${html}</p>`, "text/html");
  const p = document.createElement("p");
  p.dir = "auto";
  for (const node of parsed.body.firstChild.childNodes) {
    if (node.nodeName === "MARK") {
      const mark = document.createElement("mark");
      mark.textContent = node.textContent;
      p.append(mark);
    } else {
      p.append(document.createTextNode(node.textContent));
    }
  }
  return p;
}

async function coverage() {
  try {
    const response = await fetch(`${words.index}covered.json`, { cache: "no-cache" });
    if (!response.ok) return null;
    return await response.json();
  } catch {
    return null;
  }
}

async function run() {
  box.hidden = false;
  const query = new URLSearchParams(location.search).get("q") || "";
  input.value = query;
  const covered = await coverage();
  if (!covered || covered.responses === 0) {
    covers.textContent = words.empty;
    return;
  }
  const built = new Date(covered.built_at);
  covers.textContent = fill(words.covers, {
    count: covered.responses,
    at: built.toLocaleString(document.documentElement.lang, { dateStyle: "medium", timeStyle: "short" }),
  });
  if (!query.trim()) return;
  status.textContent = words.loading;
  let pagefind;
  try {
    pagefind = await import(`${words.index}pagefind.js`);
    // The index keeps each response page's own address: nothing to prefix.
    await pagefind.options({ excerptLength: 24, baseUrl: "/" });
    // The index comes in blocks of responses (block 1 here, block b in `{b}/`): one search.
    for (let block = 2; block <= (covered.blocks || 1); block += 1) {
      await pagefind.mergeIndex(`${words.index}${block}/`, { excerptLength: 24, baseUrl: "/" });
    }
  } catch {
    status.textContent = words.failed;
    return;
  }
  const search = await pagefind.search(query);
  const results = await Promise.all(search.results.slice(0, 50).map((r) => r.data()));
  list.replaceChildren();
  for (const result of results) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `${words.prefix}${result.url}`;
    link.textContent = result.meta.title || result.url;
    const heading = document.createElement("h2");
    heading.append(link);
    item.append(heading, excerpt(result.excerpt));
    list.append(item);
  }
  status.textContent = search.results.length
    ? fill(words.found, { count: search.results.length })
    : words.none;
}

run();
