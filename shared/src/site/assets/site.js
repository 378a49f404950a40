// Verbatim public site: progressive enhancement only. Every page works without this file.
// Loaded from the site's own origin (no inline code), so the strict Content-Security-Policy
// holds. The words it shows come from data- attributes rendered in the page's language.
'use strict';

(function () {
  const body = document.body;
  const lang = document.documentElement.lang || 'en';
  const fill = (template, values) =>
    template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  // A counted message: the page gives one variant per CLDR plural category of its language
  // (JSON), and the browser's own rules pick the one for `count`; "other" is always there.
  const plurals = new Intl.PluralRules(lang);
  const plural = (variants, count, values) => {
    const forms = JSON.parse(variants);
    return fill(forms[plurals.select(count)] || forms.other, Object.assign({ count: count }, values));
  };

  // Dates: Geneva time is in the page; add the reader's own time zone beside it.
  function localTimes() {
    let zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return;
    }
    const format = new Intl.DateTimeFormat(lang, {
      year: 'numeric',
      month: 'long',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      timeZoneName: 'short',
    });
    for (const time of document.querySelectorAll('time[data-local]')) {
      const at = new Date(time.getAttribute('datetime'));
      if (Number.isNaN(at.getTime())) continue;
      const note = document.createElement('span');
      note.className = 'local-time';
      // The zone's own name only when the date does not already say it ("16:43 UTC, UTC").
      const shown = format.formatToParts(at).find((part) => part.type === 'timeZoneName');
      const same = !zone || (shown && shown.value === zone) || /^(Etc\/)?(UTC|GMT|UCT|Universal|Zulu)$/.test(zone);
      note.textContent = ' (' + body.dataset.yourTime + ' ' + format.format(at) + (same ? '' : ', ' + zone) + ')';
      time.after(note);
    }
  }

  // The countdown to the deadline while the consultation is open. role="timer" is not
  // announced on every tick, so screen readers are not flooded.
  function countdown() {
    const timer = document.getElementById('countdown');
    if (!timer) return;
    const deadline = new Date(timer.dataset.deadline).getTime();
    if (Number.isNaN(deadline)) return;
    const unit = (name) => new Intl.NumberFormat(lang, { style: 'unit', unit: name, unitDisplay: 'long' });
    const units = { day: unit('day'), hour: unit('hour'), minute: unit('minute') };
    const list = Intl.ListFormat ? new Intl.ListFormat(lang, { style: 'long', type: 'unit' }) : null;
    function tick() {
      const left = Math.max(0, deadline - Date.now());
      const minutes = Math.floor(left / 60000);
      const parts = [
        units.day.format(Math.floor(minutes / 1440)),
        units.hour.format(Math.floor((minutes % 1440) / 60)),
        units.minute.format(minutes % 60),
      ];
      timer.textContent = body.dataset.timeLeft + ' ' + (list ? list.format(parts) : parts.join(' '));
      timer.hidden = false;
      if (left > 0) setTimeout(tick, 60000 - (Date.now() % 60000) + 50);
    }
    tick();
  }

  // The filter: this page's responses at once, every page through the JSON manifest on request.
  function filter() {
    const form = document.getElementById('filter');
    const list = document.querySelector('ol.responses');
    if (!form || !list) return;
    const text = document.getElementById('filter-text');
    const category = document.getElementById('filter-category');
    const country = document.getElementById('filter-country');
    const status = document.getElementById('filter-status');
    const results = document.getElementById('filter-results');
    const entries = Array.from(list.children);
    const wanted = () => ({
      text: text.value.trim().toLocaleLowerCase(),
      category: category.value,
      country: country.value.trim().toUpperCase(),
    });
    const matches = (w, r) =>
      (!w.text || (r.name + ' ' + (r.organization || '')).toLocaleLowerCase().includes(w.text)) &&
      (!w.category || r.category === w.category) &&
      (!w.country || r.country === w.country);

    function onThisPage() {
      const w = wanted();
      let shown = 0;
      for (const li of entries) {
        const hit = matches(w, {
          name: li.dataset.name,
          organization: li.dataset.organization,
          category: li.dataset.category,
          country: li.dataset.country,
        });
        li.hidden = !hit;
        if (hit) shown += 1;
      }
      results.replaceChildren();
      status.textContent = plural(body.dataset.filterShown, shown, { shown: shown, total: entries.length });
    }

    // The page that lists response `number`, in this page's language edition.
    function pageOf(consultationUrl, pageSize, number) {
      const prefix = location.pathname.match(/^\/(ar|en|es|fr|ru|zh)\//);
      const page = Math.floor((number - 1) / pageSize) + 1;
      const path = page === 1 ? consultationUrl : consultationUrl + 'page/' + page + '/';
      return (prefix ? '/' + prefix[1] : '') + path + '#response-' + number;
    }

    async function everywhere() {
      const w = wanted();
      status.textContent = body.dataset.filterLoading;
      try {
        const head = await (await fetch(form.dataset.manifest)).json();
        let found = [];
        for (const url of head.pages) {
          const page = url === head.pages[0] ? head : await (await fetch(url)).json();
          found = found.concat(page.responses.filter((r) => matches(w, r)));
        }
        results.replaceChildren(
          ...found.map((r) => {
            const li = document.createElement('li');
            const a = document.createElement('a');
            a.href = pageOf(head.consultation.url, head.page_size, r.number);
            a.textContent = r.number + '. ' + r.name + (r.organization ? ' — ' + r.organization : '');
            li.append(a);
            return li;
          })
        );
        status.textContent = plural(body.dataset.filterFound, found.length, { shown: found.length, total: head.total });
      } catch (e) {
        status.textContent = body.dataset.filterFailed;
      }
    }

    form.hidden = false;
    form.addEventListener('input', onThisPage);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      everywhere();
    });
    document.getElementById('filter-all').addEventListener('click', everywhere);
  }

  // Form errors next to their fields, in the browser's own words, before anything is sent.
  function formErrors() {
    const form = document.getElementById('response-form');
    if (!form) return;
    const show = (control) => {
      const slot = document.getElementById(control.id + '-error');
      if (!slot) return;
      const bad = !control.validity.valid;
      slot.textContent = bad ? control.validationMessage : '';
      slot.hidden = !bad;
      if (bad) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    };
    form.addEventListener('invalid', (event) => show(event.target), true);
    form.addEventListener('change', (event) => {
      if (event.target.id) show(event.target);
    });
  }

  localTimes();
  countdown();
  filter();
  formErrors();
})();
