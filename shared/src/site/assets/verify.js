// The "verify a file" page: the browser hashes the chosen file with WebCrypto and checks it
// against the consultation's transparency log: the checkpoint's Ed25519 signature against the
// published verifier key (C2SP signed-note), the witnesses' cosignatures (C2SP
// tlog-cosignature) against the witness policy the site publishes at /log/policy (C2SP
// tlog-policy), then RFC 6962 over the published entry bundles, compared with the signed root.
// Ed25519 is WebCrypto's where the browser has it, else the audited @noble/ed25519 (fetched then).
// Nothing is uploaded. The words come from the form's data- attributes, rendered in the page's
// language.
'use strict';

(function () {
  const form = document.getElementById('verify');
  const result = document.getElementById('result');
  if (!form || !result) return;
  const words = form.dataset;
  const fill = (template, values) =>
    template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  const say = (text, ok) => {
    result.textContent = text;
    result.className = ok ? 'ok' : 'problem';
  };

  const vouching = document.getElementById('vouching');
  const params = new URLSearchParams(location.search);
  if (params.get('consultation')) document.getElementById('consultation').value = params.get('consultation');

  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
  const sha = (bytes) => crypto.subtle.digest('SHA-256', bytes);
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  };
  // RFC 6962 Merkle tree hash: split at the largest power of two below the size.
  async function root(leaves) {
    if (leaves.length === 1) return leaves[0];
    let k = 1;
    while (k * 2 < leaves.length) k *= 2;
    const left = await root(leaves.slice(0, k));
    const right = await root(leaves.slice(k));
    return new Uint8Array(await sha(concat(Uint8Array.of(1), left, right)));
  }
  const base64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

  // Ed25519 in WebCrypto where the browser has it; else @noble/ed25519 (audited, served by the
  // site as an ES module, fetched only then).
  let noble;
  async function ed25519(publicKey, signature, message) {
    try {
      const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
      return await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message);
    } catch (error) {
      if (error.name !== 'NotSupportedError') throw error;
      noble ??= import('/verify/noble-ed25519.js');
      try {
        return await (await noble).verify(signature, message, publicKey);
      } catch {
        return false; // a malformed key or signature
      }
    }
  }

  // Whether `note` (a checkpoint) carries a valid signature by `verifierKey`
  // (`<name>+<8 hex digits of key hash>+<base64 of 0x01 and the Ed25519 public key>`) and
  // names the consultation's log as its origin.
  async function signedBy(note, verifierKey, id) {
    // The key data is base64, which may itself hold '+': only the first two separate.
    const first = verifierKey.indexOf('+');
    const second = verifierKey.indexOf('+', first + 1);
    if (first < 0 || second < 0) return false;
    const [name, keyHash] = [verifierKey.slice(0, first), verifierKey.slice(first + 1, second)];
    const key = base64(verifierKey.slice(second + 1));
    const split = note.indexOf('\n\n');
    if (key.length !== 33 || key[0] !== 1 || split < 0) return false;
    const text = note.slice(0, split + 1);
    if (text.split('\n')[0] !== name + '/consultations/' + id) return false;
    const prefix = '\u2014 ' + name + ' ';
    for (const line of note.slice(split + 2).split('\n')) {
      if (!line.startsWith(prefix)) continue;
      const signature = base64(line.slice(prefix.length));
      if (signature.length !== 68 || hex(signature.slice(0, 4)) !== keyHash) continue;
      const message = new TextEncoder().encode(text);
      if (await ed25519(key.slice(1), signature.slice(4), message)) return true;
    }
    return false;
  }

  // The witness lines, groups and quorum of a C2SP tlog-policy file.
  function parsePolicy(text) {
    const policy = { witnesses: [], groups: new Map(), quorum: 'none' };
    for (const raw of text.split('\n')) {
      const words = raw.split(/[ \t]+/).filter(Boolean);
      if (words.length === 0 || words[0].startsWith('#')) continue;
      if (words[0] === 'witness' && words.length >= 3) policy.witnesses.push({ name: words[1], key: words[2] });
      if (words[0] === 'group' && words.length >= 4) policy.groups.set(words[1], { k: words[2], members: words.slice(3) });
      if (words[0] === 'quorum' && words.length === 2) policy.quorum = words[1];
    }
    return policy;
  }

  // Whether `name` (a witness or a group, as the policy defines it) witnessed the checkpoint,
  // given the names of the witnesses whose cosignature verified.
  function witnessed(policy, signed, name) {
    if (name === 'none') return true;
    const group = policy.groups.get(name);
    if (!group) return signed.has(name);
    const n = group.members.length;
    const k = group.k === 'all' ? n : group.k === 'any' ? 1 : Number(group.k);
    return group.members.filter((member) => witnessed(policy, signed, member)).length >= k;
  }

  // The state of a witness's cosignature on `note`: its verifier key is `<name>+<key ID>+<base64
  // of 0x04 and the Ed25519 public key>`, the key ID the first four bytes of SHA-256(name, a
  // newline, 0x04, key); a cosignature line holds the key ID, an 8-byte big-endian timestamp
  // and the Ed25519 signature of "cosignature/v1\ntime <timestamp>\n" and the checkpoint's text.
  async function cosignature(note, verifierKey) {
    const first = verifierKey.indexOf('+');
    const second = verifierKey.indexOf('+', first + 1);
    if (first < 0 || second < 0) return { state: 'invalid' };
    const [name, keyId] = [verifierKey.slice(0, first), verifierKey.slice(first + 1, second)];
    const key = base64(verifierKey.slice(second + 1));
    const encoder = new TextEncoder();
    const derived = hex((await sha(concat(encoder.encode(name + '\n'), key))).slice(0, 4));
    if (key.length !== 33 || key[0] !== 4 || derived !== keyId) return { state: 'invalid' };
    const split = note.indexOf('\n\n');
    const text = encoder.encode(note.slice(0, split + 1));
    const prefix = '\u2014 ' + name + ' ';
    let seen = false;
    for (const line of note.slice(split + 2).split('\n')) {
      if (!line.startsWith(prefix)) continue;
      seen = true;
      let signature;
      try {
        signature = base64(line.slice(prefix.length));
      } catch {
        continue;
      }
      if (signature.length !== 76 || hex(signature.slice(0, 4)) !== keyId) continue;
      const time = new DataView(signature.buffer, signature.byteOffset + 4, 8).getBigUint64(0);
      const message = concat(encoder.encode(`cosignature/v1\ntime ${time}\n`), text);
      if (await ed25519(key.slice(1), signature.slice(12), message)) {
        return { state: 'valid', time };
      }
    }
    return { state: seen ? 'invalid' : 'missing' };
  }

  // Shows who vouches for the checkpoint: the operator (its signature was checked before), each
  // witness of the published policy, and whether the policy's quorum is met.
  async function showVouching(note, verifierKey) {
    vouching.replaceChildren();
    const reply = await fetch('/log/policy');
    const policy = parsePolicy(reply.ok ? await reply.text() : 'quorum none\n');
    const line = (parent, tag, text, ok) => {
      const element = document.createElement(tag);
      if (text !== undefined) element.textContent = text;
      if (ok !== undefined) element.className = ok ? 'ok' : 'problem';
      parent.append(element);
      return element;
    };
    if (policy.witnesses.length === 0 && policy.quorum === 'none') {
      line(vouching, 'p', words.noWitnesses);
      return;
    }
    line(vouching, 'p', fill(words.witnesses, { policy: '/log/policy' }));
    const list = line(vouching, 'ul');
    line(list, 'li', fill(words.logSigned, { key: verifierKey }), true);
    const signed = new Set();
    for (const witness of policy.witnesses) {
      const found = await cosignature(note, witness.key);
      if (found.state === 'valid') {
        signed.add(witness.name);
        const time = new Date(Number(found.time) * 1000).toLocaleString(document.documentElement.lang);
        line(list, 'li', fill(words.witnessValid, { name: witness.name, time }), true);
      } else if (found.state === 'invalid') {
        line(list, 'li', fill(words.witnessInvalid, { name: witness.name }), false);
      } else {
        line(list, 'li', fill(words.witnessMissing, { name: witness.name }), false);
      }
    }
    const met = witnessed(policy, signed, policy.quorum);
    line(vouching, 'p', met ? words.quorumMet : words.quorumUnmet, met);
  }

  // A tile index as the tlog-tiles path (`x001/234`).
  function path(n) {
    let s = String(n % 1000).padStart(3, '0');
    while (n >= 1000) {
      n = Math.floor(n / 1000);
      s = 'x' + String(n % 1000).padStart(3, '0') + '/' + s;
    }
    return s;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const id = document.getElementById('consultation').value.trim();
    const file = document.getElementById('file').files[0];
    if (!id || !file) return;
    say(fill(words.computing, { name: file.name }), true);
    try {
      const digest = hex(await sha(await file.arrayBuffer()));
      const base = '/consultations/' + encodeURIComponent(id) + '/log/';
      const [checkpoint, published] = await Promise.all([fetch(base + 'checkpoint'), fetch('/log/verifier-key')]);
      if (!checkpoint.ok) throw new Error(base + 'checkpoint: ' + checkpoint.status);
      if (!published.ok) throw new Error('/log/verifier-key: ' + published.status);
      const note = await checkpoint.text();
      const verifierKey = (await published.text()).trim();
      vouching.replaceChildren();
      if (!(await signedBy(note, verifierKey, id))) {
        say(fill(words.unsigned, { key: verifierKey }), false);
        return;
      }
      await showVouching(note, verifierKey);
      const lines = note.split('\n');
      const size = Number(lines[1]);
      const signedRoot = lines[2];
      const leaves = [];
      const found = [];
      for (let n = 0; n * 256 < size; n++) {
        const width = Math.min(256, size - n * 256);
        const url = base + 'tile/entries/' + path(n) + (width < 256 ? '.p/' + width : '');
        const reply = await fetch(url);
        if (!reply.ok) throw new Error(url + ': ' + reply.status);
        const bundle = new Uint8Array(await reply.arrayBuffer());
        for (let o = 0; o < bundle.length; ) {
          const length = (bundle[o] << 8) | bundle[o + 1];
          const entry = bundle.slice(o + 2, o + 2 + length);
          o += 2 + length;
          leaves.push(new Uint8Array(await sha(concat(Uint8Array.of(0), entry))));
          const record = JSON.parse(new TextDecoder().decode(entry));
          for (const f of record.files) if (f.sha256 === digest) found.push({ number: record.number, name: f.name });
        }
      }
      if (leaves.length !== size) throw new Error(`${leaves.length} / ${size}`);
      const computed = btoa(String.fromCharCode(...(await root(leaves))));
      if (computed !== signedRoot) {
        say(fill(words.altered, { root: signedRoot }), false);
      } else if (found.length === 0) {
        say(fill(words.absent, { digest }), false);
      } else {
        const files = found.map((f) => fill(words.foundFile, f)).join('; ');
        say(fill(words.found, { digest, root: signedRoot, files }), true);
      }
    } catch (error) {
      say(fill(words.failed, { error: error.message }), false);
    }
  });
})();
