// Verbatim public site: the response form's files go straight to storage through presigned
// uploads (S3 on AWS, the local host's own PUT locally), with a progress bar per file, then the
// response is recorded with their ids and its receipt shown in the page. This is how files
// larger than API Gateway's 10 MB request limit get in.
//
// Progressive enhancement only: without JavaScript (or without files chosen) the form posts
// multipart as before. Loaded from the site's own origin (no inline code), so the strict
// Content-Security-Policy holds. The words it shows come from the form's data-messages
// attribute, in the page's language; the limits from its data-max-* attributes.
'use strict';

(function () {
  const form = document.getElementById('response-form');
  const input = document.getElementById('file');
  if (!form || !input || !form.dataset.messages || !window.fetch || !window.XMLHttpRequest) return;

  const words = JSON.parse(form.dataset.messages);
  const lang = document.documentElement.lang || 'en';
  const MIB = 1024 * 1024;
  const limits = {
    file: Number(form.dataset.maxFileBytes),
    files: Number(form.dataset.maxFiles),
    total: Number(form.dataset.maxTotalBytes),
  };
  const FIELDS = ['name', 'organization', 'email', 'category', 'country', 'text'];
  const submit = form.querySelector('button[type=submit]');
  const say = (key, values) =>
    (words[key] || key).replace(/\{(\w+)\}/g, (whole, name) =>
      values && name in values ? String(values[name]) : whole
    );
  // What the form would send: browsers send a textarea's line breaks as CRLF.
  const sent = (value) => value.replace(/\r\n|\r|\n/g, '\r\n');
  const textValue = () => sent(form.elements.text.value);
  // One text box per question, `answer-{k}`: sent as JSON `answers` by the question's number.
  const answerBoxes = Array.from(form.querySelectorAll('textarea[name^="answer-"]'));
  const answers = () => {
    const given = {};
    for (const box of answerBoxes) {
      if (box.value !== '') given[box.name.slice('answer-'.length)] = sent(box.value);
    }
    return given;
  };

  // The progress bars and one polite status line for the whole upload (start, done or failure
  // of each file, never every progress tick, so screen readers are not flooded).
  const box = document.createElement('div');
  box.className = 'upload-progress';
  const list = document.createElement('ul');
  list.setAttribute('aria-label', say('upload_files_label'));
  list.hidden = true;
  const status = document.createElement('p');
  status.id = 'upload-status';
  status.setAttribute('role', 'status');
  box.append(list, status);
  (document.getElementById('file-error') || input).after(box);
  // Errors no single field is to blame for (the consultation closed, the connection failed).
  const formError = document.createElement('p');
  formError.id = 'response-form-error';
  formError.className = 'error';
  formError.tabIndex = -1;
  formError.hidden = true;
  (submit.closest('p') || submit).before(formError);

  // The limits the page knows, checked as soon as files are chosen or the text changes; the
  // browser then refuses to submit, and site.js shows the message next to the file field.
  function problems() {
    const files = Array.from(input.files);
    const found = [];
    if (files.length > limits.files) found.push(say('upload_too_many', { count: limits.files }));
    const encoder = new TextEncoder();
    let total = encoder.encode(textValue()).length;
    for (const answer of Object.values(answers())) total += encoder.encode(answer).length;
    for (const file of files) {
      total += file.size;
      if (file.size === 0) found.push(say('upload_empty', { name: file.name }));
      else if (file.size > limits.file) {
        found.push(say('upload_too_large', { name: file.name, limit: limits.file / MIB }));
      }
    }
    if (total > limits.total) found.push(say('upload_total_too_large', { limit: limits.total / MIB }));
    return found;
  }
  const recheck = () => input.setCustomValidity(problems().join(' '));
  input.addEventListener('change', recheck);
  for (const box of [form.elements.text, ...answerBoxes]) {
    box.addEventListener('change', () => {
      recheck();
      if (input.files.length) input.dispatchEvent(new Event('change', { bubbles: true }));
    });
  }

  /** A refusal from the server, with the field it names and the message in its own language. */
  class Refusal extends Error {
    constructor(status, error, messageLang) {
      super((error && error.message) || '');
      this.status = status;
      this.field = error && error.field;
      this.code = error && error.code;
      this.messageLang = messageLang || 'en';
    }
  }
  class NetworkFailure extends Error {}

  async function refusal(reply) {
    let error = null;
    try {
      error = (await reply.json()).error;
    } catch (e) {
      error = null;
    }
    return new Refusal(reply.status, error, reply.headers.get('content-language'));
  }

  async function postJson(url, value) {
    let reply;
    try {
      reply = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(value),
      });
    } catch (e) {
      throw new NetworkFailure();
    }
    // 201: numbered; 202: stored, its number to come (asked for at its Location).
    if (reply.status !== 201 && reply.status !== 202) throw await refusal(reply);
    const body = await reply.json();
    if (reply.status === 202) body.location = reply.headers.get('location');
    return body;
  }

  // A pending receipt has no number yet: ask for it until the sequencer has given it (the
  // response is stored meanwhile; nothing is sent again).
  async function numbered(receipt) {
    while (receipt.status === 'pending' && receipt.location) {
      await new Promise((done) => setTimeout(done, 1000));
      try {
        const reply = await fetch(receipt.location, { headers: { accept: 'application/json' } });
        if (reply.ok) receipt = Object.assign(await reply.json(), { location: receipt.location });
      } catch (e) {
        // Offline for a moment: ask again.
      }
    }
    return receipt;
  }

  // The file's bytes to the granted URL, with upload progress events (fetch has none).
  function put(grant, file, bar) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(grant.method || 'PUT', grant.url);
      for (const [name, value] of Object.entries(grant.headers || {})) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener('progress', (event) => {
        bar.value = Math.min(event.loaded, file.size);
      });
      xhr.addEventListener('load', () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = file.size;
          resolve();
          return;
        }
        let error = null;
        try {
          error = JSON.parse(xhr.responseText).error;
        } catch (e) {
          error = null; // S3 answers in XML: the status says enough
        }
        reject(new Refusal(xhr.status, error, xhr.getResponseHeader('content-language')));
      });
      xhr.addEventListener('error', () => reject(new NetworkFailure()));
      xhr.addEventListener('abort', () => reject(new NetworkFailure()));
      xhr.send(file);
    });
  }

  function progressRow(file, index) {
    const li = document.createElement('li');
    const label = document.createElement('label');
    label.htmlFor = 'upload-' + index;
    label.textContent = file.name;
    const bar = document.createElement('progress');
    bar.id = 'upload-' + index;
    bar.max = file.size;
    bar.value = 0;
    const state = document.createElement('span');
    state.className = 'upload-state';
    li.append(label, ' ', bar, ' ', state);
    list.append(li);
    return { bar, state };
  }

  function clearErrors() {
    for (const id of [...FIELDS, ...answerBoxes.map((box) => box.id), 'file']) {
      const slot = document.getElementById(id + '-error');
      if (slot) {
        slot.textContent = '';
        slot.hidden = true;
      }
      const control = document.getElementById(id);
      if (control) control.removeAttribute('aria-invalid');
    }
    formError.textContent = '';
    formError.hidden = true;
  }

  /** Shows a failure next to the field concerned (or above the button), and focuses it so a
   * screen reader reads the field with its error. */
  function showFailure(failure, lead) {
    // A file that could not be sent, or a refusal naming a field or a file's size or type.
    let field = lead ? 'file' : null;
    if (failure instanceof Refusal) {
      const named = failure.field === 'uploads' || failure.field === 'files' ? 'file' : failure.field;
      if (named && document.getElementById(named + '-error')) field = named;
      else if ([410, 413, 415].includes(failure.status)) field = 'file';
      // Closed or not yet open: no field is to blame.
      if (/^consultation_/.test(failure.code || '')) field = null;
    }
    const slot = field ? document.getElementById(field + '-error') : formError;
    const parts = [];
    if (lead) parts.push(lead);
    if (failure instanceof Refusal) {
      parts.push(say('upload_refused', { status: failure.status }));
    } else {
      parts.push(say('upload_network'));
    }
    slot.replaceChildren(parts.join(' '));
    if (failure instanceof Refusal && failure.message) {
      const server = document.createElement('span');
      const serverLang = failure.messageLang.split(',')[0].trim();
      if (serverLang !== lang) {
        server.lang = serverLang;
        server.dir = serverLang === 'ar' ? 'rtl' : 'ltr';
      }
      server.textContent = failure.message;
      slot.append(' ', server);
    }
    slot.hidden = false;
    const control = field && document.getElementById(field);
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.focus();
    } else {
      slot.focus();
    }
  }

  // A catalogue text with elements in place of some {placeholders}.
  function withParts(template, parts) {
    return template.split(/(\{\w+\})/).map((piece) => {
      const name = piece.slice(1, -1);
      return /^\{\w+\}$/.test(piece) && name in parts ? parts[name] : piece;
    });
  }

  function element(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  // The same information as the receipt page the form gets without JavaScript.
  function showReceipt(receipt) {
    const section = form.closest('section') || form.parentElement;
    const heading = element('h2', say('receipt_heading', { number: receipt.number }), { tabindex: '-1' });
    const received = element('time', receipt.received_at, { datetime: receipt.received_at });
    try {
      received.textContent = new Intl.DateTimeFormat(lang, {
        dateStyle: 'long',
        timeStyle: 'long',
        timeZone: 'Europe/Zurich',
      }).format(new Date(receipt.received_at));
    } catch (e) {
      // the UTC timestamp stays
    }
    const consultation = element('a', receipt.consultation, { href: form.dataset.consultation });
    const text = element('p');
    text.append(...withParts(say('receipt_text'), { received, consultation }));
    const table = element('table');
    const head = element('tr');
    for (const key of ['col_file', 'col_bytes', 'sha256']) head.append(element('th', say(key), { scope: 'col' }));
    table.append(element('thead'), element('tbody'));
    table.tHead.append(head);
    for (const file of receipt.files) {
      const row = element('tr');
      const link = element('a', file.name, { href: file.url, download: '' });
      const name = element('td');
      name.append(link);
      const sha = element('td', undefined, { class: 'sha' });
      sha.append(element('code', file.sha256));
      row.append(name, element('td', String(file.size)), sha);
      table.tBodies[0].append(row);
    }
    const id = element('p', say('response_id') + ' ');
    id.append(element('code', receipt.id));
    const shown = [heading, text, table, id];
    if (receipt.log) {
      // The signed entry, as the receipt page shows it.
      const log = element('p');
      log.append(
        ...withParts(say('log_receipt_text'), {
          index: String(receipt.log.leaf_index),
          origin: element('code', receipt.log.origin),
          leaf_hash: element('code', receipt.log.leaf_hash, { class: 'sha' }),
          key: element('code', receipt.log.key),
          signature: element('code', receipt.log.signature, { class: 'sha' }),
        })
      );
      shown.push(log);
    }
    heading.id = 'respond';
    section.replaceChildren(...shown);
    heading.focus();
  }

  let busy = false;

  async function send(files) {
    busy = true;
    form.setAttribute('aria-busy', 'true');
    submit.setAttribute('aria-disabled', 'true');
    clearErrors();
    list.replaceChildren();
    list.hidden = false;
    const rows = files.map(progressRow);
    const uploads = [];
    let current = null;
    try {
      // Uploads are granted and sent again on every attempt: a refused response may have
      // used them up already, and each is good for one response only.
      for (const [index, file] of files.entries()) {
        current = file;
        const { bar, state } = rows[index];
        status.textContent = say('upload_sending', { name: file.name });
        const grant = await postJson(form.dataset.uploads, { name: file.name, size: file.size });
        await put(grant, file, bar);
        state.textContent = say('upload_sent', { name: file.name });
        status.textContent = state.textContent;
        uploads.push(grant.upload);
      }
      current = null;
      status.textContent = say('upload_finishing');
      // Sent from the site's form: counted with the other web responses, not as the API's.
      const response = { uploads, channel: 'web' };
      if (answerBoxes.length) response.answers = answers();
      for (const field of FIELDS) {
        const value = field === 'text' ? textValue() : form.elements[field].value;
        if (value.trim() !== '') response[field] = value;
      }
      showReceipt(await numbered(await postJson(form.action, response)));
    } catch (failure) {
      if (!(failure instanceof Refusal) && !(failure instanceof NetworkFailure)) throw failure;
      let lead = null;
      if (current) {
        lead = say('upload_failed', { name: current.name });
        rows[files.indexOf(current)].state.textContent = lead;
      }
      status.textContent = lead || '';
      showFailure(failure, lead);
    } finally {
      busy = false;
      form.removeAttribute('aria-busy');
      submit.removeAttribute('aria-disabled');
    }
  }

  // Leaving the page while files are being sent would lose the response: the browser asks first.
  window.addEventListener('beforeunload', (event) => {
    if (!busy) return;
    event.preventDefault();
    event.returnValue = '';
  });

  form.addEventListener('submit', (event) => {
    const files = Array.from(input.files);
    if (busy) {
      event.preventDefault();
      return;
    }
    // Without files the plain post does the job (and its receipt page is the same).
    if (files.length === 0) return;
    event.preventDefault();
    send(files);
  });
})();
