//! Finds responses whose texts are identical or nearly identical (a flood of copies, such as a
//! campaign sends), so the Group's summary page can show them together once a consultation closes.
//!
//! It only reports groups: nothing is removed or altered, because every response is published
//! byte for byte. It is pure (no I/O) and deterministic (fixed hashes, no random seeds, no
//! dependence on hash-map order), so the same responses give the same page on every run and
//! platform. It keeps a fixed-size record per response (a digest and a signature, about 300
//! bytes) rather than the text, and never compares every pair, so 100,000 responses stay cheap.
//!
//! The method, in order:
//! 1. **Normalise** the text ([`normalise`]): decode as UTF-8 lossily, drop invisible characters
//!    (BOM, zero-width ones), lowercase, turn every run of other non-alphanumeric characters
//!    (spaces, line breaks, punctuation) into one space, trim. Copies that differ only in case,
//!    spacing, line endings or punctuation become the same string.
//! 2. **Exact copies** share the SHA-256 digest of the normalised text.
//! 3. **Near copies** are found by MinHash over character 5-grams of the normalised text: a
//!    64-value signature whose share of equal values estimates the Jaccard similarity of the
//!    two texts' 5-gram sets. Locality-sensitive hashing (16 bands of 4 values) finds candidate
//!    pairs: two texts are candidates when they agree on a whole band. A candidate pair is
//!    confirmed when at least 80% of the signature agrees (estimated Jaccard ≥ 0.8). With these
//!    numbers a pair at Jaccard 0.8 is a candidate with probability 1 − (1 − 0.8⁴)¹⁶ ≈ 0.9998,
//!    and one at 0.3 with probability ≈ 0.12 (then rejected by the 80% check).
//! 4. **Union-find** merges exact and confirmed near pairs, so groups are transitive: if A is
//!    near B and B near C, A, B and C form one group even when A and C differ more.

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;

use sha2::{Digest, Sha256};

/// Shingles are runs of this many characters of the normalised text (spaces included).
///
/// Characters rather than words, and for every text: scripts written without spaces (Chinese,
/// Japanese, Thai) have no words to split on, and a rule that picked words or characters per
/// text (say by counting spaces) could put two copies of one text on different sides of the
/// rule, making them incomparable. In spaced scripts a 5-gram spans about one word and its
/// neighbours' edges, so it behaves like a short word shingle; in Chinese it spans two or three
/// words.
///
/// The text is padded with [`BOUNDARY`] marks (four on each side), so its first and last
/// characters are in five shingles like every other. Unpadded, a changed last letter ("I
/// strongly support option A" / "… option B") would change a single shingle and pass as a
/// near copy; padded, a one-character change anywhere changes about five shingles of each text,
/// so it keeps two texts above 0.8 only from about 45 shingles (some 40 characters) on.
const SHINGLE_CHARS: usize = 5;

/// Pads the text for shingling; normalisation never produces it (it is not alphanumeric).
const BOUNDARY: char = '\0';

/// Values in a MinHash signature.
const SIGNATURE_LEN: usize = 64;

/// LSH bands; each holds `SIGNATURE_LEN / BANDS` consecutive values.
const BANDS: usize = 16;
const ROWS_PER_BAND: usize = SIGNATURE_LEN / BANDS;

/// A candidate pair is confirmed when at least this share (in percent) of the signature agrees,
/// that is when its estimated Jaccard similarity is at least 0.8.
const MIN_AGREEMENT_PERCENT: usize = 80;

/// Texts with fewer shingles than this (under 20 characters once normalised, three or four
/// words) only join exact groups.
///
/// In so short a text any difference is a large share of it and usually the whole point ("I
/// agree" / "I agreed"), and an estimate from so few shingles is noisy: only exact copies count.
const MIN_SHINGLES_FOR_NEAR: usize = 24;

/// At most this many texts per LSH bucket are compared with the others in that bucket.
///
/// A bucket normally holds one family of copies, whose members all agree with its first text;
/// the cap bounds the work (to `BANDS × responses × this` comparisons) if an unlucky bucket
/// gathers many unrelated texts. Exact copies enter the buckets once, whatever their number.
const MAX_REPRESENTATIVES_PER_BUCKET: usize = 16;

/// A response's MinHash signature: one 32-bit value per bin (the low bits of the minimum hash;
/// two different minima agree by chance with probability 2⁻³², which is negligible).
type Signature = [u32; SIGNATURE_LEN];

/// Finds responses whose texts are identical or nearly identical.
///
/// Add every response with [`add`](Self::add), then ask for [`groups`](Self::groups). Each
/// response number is expected once (response numbers are unique within a consultation).
#[derive(Debug, Default)]
pub struct SimilarityIndex {
    entries: Vec<Record>,
}

/// What is kept of one response: enough to group it, never the text itself.
#[derive(Debug)]
struct Record {
    number: u64,
    /// SHA-256 of the normalised text: equal digests mean identical after normalisation.
    digest: [u8; 32],
    /// `None` for texts too short for near matching (see [`MIN_SHINGLES_FOR_NEAR`]); boxed so
    /// those cost no signature.
    signature: Option<Box<Signature>>,
}

impl SimilarityIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds response `number`'s text (bytes in any encoding: decode as UTF-8 lossily).
    ///
    /// A text that is empty once normalised (blank, or only punctuation) is not recorded: a
    /// blank response is not a copy of anything and is never grouped.
    pub fn add(&mut self, number: u64, text: &[u8]) {
        let normalised = normalise(text);
        if normalised.is_empty() {
            return;
        }
        let signature = near_signature(&normalised).map(Box::new);
        self.entries.push(Record {
            number,
            digest: Sha256::digest(normalised.as_bytes()).into(),
            signature,
        });
    }

    /// Groups of two or more responses, each sorted by number, groups sorted by their first number.
    pub fn groups(&self) -> Vec<SimilarGroup> {
        let mut sets = DisjointSets::new(self.entries.len());

        // Exact copies: one union per repeated digest. Only the first of each digest goes on to
        // near matching, since its copies have the same signature and are already joined to it.
        let mut first_with_digest: HashMap<&[u8; 32], usize> = HashMap::new();
        let mut near_candidates = Vec::new();
        for (i, record) in self.entries.iter().enumerate() {
            match first_with_digest.entry(&record.digest) {
                MapEntry::Occupied(first) => sets.union(*first.get(), i),
                MapEntry::Vacant(slot) => {
                    slot.insert(i);
                    if record.signature.is_some() {
                        near_candidates.push(i);
                    }
                }
            }
        }

        // Near copies: per band, sort by the band's key; equal keys form a bucket of candidates.
        let mut keyed: Vec<(u64, usize)> = Vec::with_capacity(near_candidates.len());
        for band in 0..BANDS {
            keyed.clear();
            keyed.extend(
                near_candidates
                    .iter()
                    .map(|&i| (band_key(band, self.signature(i)), i)),
            );
            keyed.sort_unstable();
            for bucket in keyed.chunk_by(|a, b| a.0 == b.0) {
                if bucket.len() > 1 {
                    self.join_bucket(bucket, &mut sets);
                }
            }
        }

        self.collect_groups(&mut sets)
    }

    fn signature(&self, i: usize) -> &Signature {
        self.entries[i]
            .signature
            .as_deref()
            .expect("only records with a signature are near candidates")
    }

    /// Joins the texts of one LSH bucket that are confirmed similar.
    ///
    /// Each text is compared with the bucket's representatives (the first text of each family
    /// met so far), not with every other text, so a bucket of thousands of near copies costs
    /// thousands of comparisons, not millions. A text that matches representatives of two
    /// families merges them.
    fn join_bucket(&self, bucket: &[(u64, usize)], sets: &mut DisjointSets) {
        let mut representatives: Vec<usize> = Vec::new();
        for &(_, i) in bucket {
            let mut joined = false;
            for &r in &representatives {
                if sets.find(r) == sets.find(i) {
                    joined = true;
                } else if similar(self.signature(r), self.signature(i)) {
                    sets.union(r, i);
                    joined = true;
                }
            }
            if !joined && representatives.len() < MAX_REPRESENTATIVES_PER_BUCKET {
                representatives.push(i);
            }
        }
    }

    fn collect_groups(&self, sets: &mut DisjointSets) -> Vec<SimilarGroup> {
        let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
        for i in 0..self.entries.len() {
            members.entry(sets.find(i)).or_default().push(i);
        }
        let mut groups: Vec<SimilarGroup> = members
            .into_values()
            .filter_map(|indices| {
                let first = &self.entries[indices[0]].digest;
                let identical = indices.iter().all(|&i| &self.entries[i].digest == first);
                let mut numbers: Vec<u64> =
                    indices.iter().map(|&i| self.entries[i].number).collect();
                numbers.sort_unstable();
                numbers.dedup();
                (numbers.len() >= 2).then_some(SimilarGroup { numbers, identical })
            })
            .collect();
        groups.sort_by(|a, b| a.numbers.cmp(&b.numbers));
        groups
    }
}

/// Responses whose texts are identical or nearly identical.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SimilarGroup {
    pub numbers: Vec<u64>,
    /// Every text in the group is the same after normalisation (case, whitespace, punctuation).
    pub identical: bool,
}

/// The form in which two texts are compared: lowercase, words of letters and digits (any script)
/// separated by single spaces, nothing else.
///
/// Invisible characters (BOM, zero-width space and joiners, soft hyphen, Arabic tatweel) are
/// dropped rather than turned into spaces, since they never separate words on screen. Combining
/// marks stay with their letter, so decomposed accents do not split words. No Unicode
/// compatibility folding (full-width Latin stays distinct from ASCII): the crate has no tables
/// for it, and copies made by pasting keep the same forms anyway.
fn normalise(text: &[u8]) -> String {
    let decoded = String::from_utf8_lossy(text);
    let mut out = String::with_capacity(decoded.len());
    let mut gap = false;
    for c in decoded.chars() {
        // ASCII first: most responses are mostly ASCII, and the Unicode property lookups are slower.
        let in_word = if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else if is_invisible(c) {
            continue;
        } else {
            c.is_alphanumeric() || is_combining_mark(c)
        };
        if !in_word {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{FEFF}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{00AD}' | '\u{0640}'
    )
}

/// The combining diacritical mark blocks (the main ones; marks elsewhere, such as Arabic
/// vowel signs or Indic vowel signs, are already alphabetic for [`char::is_alphanumeric`]).
fn is_combining_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// The MinHash signature of the normalised text's character 5-grams (padded with
/// [`BOUNDARY`] marks), by one-permutation hashing; `None` for a text too short for near
/// matching (see [`MIN_SHINGLES_FOR_NEAR`]).
///
/// Each shingle is hashed once; the hash's top 6 bits pick one of the 64 bins and each bin
/// keeps the smallest hash it receives. This costs one hash per shingle instead of 64, and its
/// share of agreeing bins estimates Jaccard similarity as classic 64-permutation MinHash does.
/// Bins that no shingle reached are filled by "optimal densification" (Shrivastava, ICML 2017):
/// bin `j` copies the first filled bin in a fixed pseudo-random sequence of bins for `j`, the same
/// sequence for every text, which keeps the estimate unbiased.
fn near_signature(normalised: &str) -> Option<Signature> {
    let padding = SHINGLE_CHARS - 1;
    if normalised.chars().count() + padding < MIN_SHINGLES_FOR_NEAR {
        return None;
    }
    let mut minima = [u64::MAX; SIGNATURE_LEN];
    let mut filled = [false; SIGNATURE_LEN];
    let mut add_shingle = |window: Window| {
        let hash = shingle_hash(window);
        let bin = (hash >> BIN_SHIFT) as usize;
        if !filled[bin] || hash < minima[bin] {
            minima[bin] = hash;
            filled[bin] = true;
        }
    };
    // Plain loops rather than an iterator chain: this runs once per character of every
    // response, and debug builds (the tests) leave iterator adapters unoptimised.
    let mut window = (0..padding).fold(0, |window, _| slide(window, BOUNDARY));
    for c in normalised.chars() {
        window = slide(window, c);
        add_shingle(window);
    }
    for _ in 0..padding {
        window = slide(window, BOUNDARY);
        add_shingle(window);
    }
    let mut signature = [0; SIGNATURE_LEN];
    for (bin, value) in signature.iter_mut().enumerate() {
        let source = if filled[bin] {
            bin
        } else {
            borrowed_bin(bin, &filled)
        };
        // The low 32 bits: the bin number is in the top bits, the low ones are as random as any.
        *value = minima[source] as u32;
    }
    Some(signature)
}

/// The filled bin whose minimum an empty `bin` copies.
fn borrowed_bin(bin: usize, filled: &[bool; SIGNATURE_LEN]) -> usize {
    for attempt in 0..4 * SIGNATURE_LEN as u64 {
        let candidate =
            (mix(DENSIFY_SEED ^ ((bin as u64) << 32) ^ attempt) % SIGNATURE_LEN as u64) as usize;
        if filled[candidate] {
            return candidate;
        }
    }
    // Unreachable in practice (it needs 256 misses); a fixed scan keeps the result defined.
    (1..SIGNATURE_LEN)
        .map(|step| (bin + step) % SIGNATURE_LEN)
        .find(|&candidate| filled[candidate])
        .expect("a text with a shingle fills at least one bin")
}

/// The fraction of agreeing values estimates the Jaccard similarity of the two shingle sets.
fn similar(a: &Signature, b: &Signature) -> bool {
    let agreeing = a.iter().zip(b).filter(|(x, y)| x == y).count();
    agreeing * 100 >= SIGNATURE_LEN * MIN_AGREEMENT_PERCENT
}

/// The bucket key of one band of a signature.
fn band_key(band: usize, signature: &Signature) -> u64 {
    signature[band * ROWS_PER_BAND..][..ROWS_PER_BAND]
        .iter()
        .fold(mix(band as u64), |key, &value| mix(key ^ u64::from(value)))
}

/// A shingle's characters packed 21 bits each (enough for any code point), oldest first: an
/// exact encoding of the shingle, so equal windows are equal shingles and nothing else.
type Window = u128;

const CHAR_BITS: u32 = 21;
const WINDOW_MASK: Window = (1 << (CHAR_BITS * SHINGLE_CHARS as u32)) - 1;

/// The hash's top bits name its bin.
const BIN_SHIFT: u32 = 64 - SIGNATURE_LEN.trailing_zeros();

/// The window after `c`: the oldest character drops out.
fn slide(window: Window, c: char) -> Window {
    ((window << CHAR_BITS) | Window::from(c)) & WINDOW_MASK
}

const DENSIFY_SEED: u64 = 0x5bd1_e995_9e37_79b9;

/// A shingle's 64-bit hash: both halves of the window through [`mix`], so every bit of the
/// result (the bin bits included) depends on every character.
fn shingle_hash(window: Window) -> u64 {
    mix((window as u64) ^ mix((window >> 64) as u64))
}

/// The SplitMix64 output step: a fixed bijective mix of 64 bits, the same on every platform.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Union-find with path halving and union by size.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// About 200 words, ten sentences.
    const LETTER: &str = "The proposal to publish every response exactly as it was received \
        deserves our full support. Consultations lose public trust when submissions are \
        summarised, shortened or quietly edited by the people who run them. Publishing the \
        original text allows anyone to check what was actually said and by whom. We nevertheless \
        ask the Secretariat to consider three practical points before the next meeting of the \
        Group. First, respondents should be told clearly, before they submit anything, that their \
        words will appear online without any changes. Second, personal data such as home \
        addresses or telephone numbers ought to be requested in a separate field that is never \
        published. Third, the deadline should be announced in the local time of the Secretariat \
        and repeated on every page of the consultation. Small organisations with limited staff \
        often struggle to follow long procedural documents, so a short guide in plain language \
        would help them take part. We also hope that future consultations will accept \
        attachments in common formats and keep them available for several years. Finally, we \
        thank the Secretariat for its careful work and look forward to reading the responses of \
        the other members and organisations.";

    fn groups_of(texts: &[(u64, &[u8])]) -> Vec<SimilarGroup> {
        let mut index = SimilarityIndex::new();
        for &(number, text) in texts {
            index.add(number, text);
        }
        index.groups()
    }

    fn group(numbers: &[u64], identical: bool) -> SimilarGroup {
        SimilarGroup {
            numbers: numbers.to_vec(),
            identical,
        }
    }

    fn signature_of(text: &str) -> Signature {
        near_signature(&normalise(text.as_bytes())).expect("long enough for near matching")
    }

    /// Whether two texts' signatures pass the 80% check, whatever LSH would make of them.
    fn near(a: &str, b: &str) -> bool {
        similar(&signature_of(a), &signature_of(b))
    }

    /// A deterministic pseudo-random stream (SplitMix64), so generated texts never change.
    struct Stream(u64);

    impl Stream {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_add(1);
            (mix(self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)) % n as u64) as usize
        }

        /// A pseudo-word of one to four syllables.
        fn word(&mut self) -> String {
            const SYLLABLES: [&str; 24] = [
                "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "gu", "fe", "zo", "bi",
                "ha", "ju", "qua", "sto", "pre", "lin", "mor", "tes", "val", "dri",
            ];
            let syllables = 1 + self.below(4);
            (0..syllables)
                .map(|_| SYLLABLES[self.below(SYLLABLES.len())])
                .collect()
        }

        fn words(&mut self, n: usize) -> Vec<String> {
            (0..n).map(|_| self.word()).collect()
        }
    }

    #[test]
    fn copies_differing_in_case_spacing_punctuation_line_endings_and_bom_are_identical() {
        let original = LETTER.to_owned();
        let shouted = LETTER.to_uppercase();
        let crlf = LETTER.replace(". ", ".\r\n\r\n   ");
        let repunctuated = LETTER.replace(',', " ;").replace('.', "!!! ");
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), LETTER.as_bytes()].concat();
        let groups = groups_of(&[
            (1, original.as_bytes()),
            (2, shouted.as_bytes()),
            (3, crlf.as_bytes()),
            (4, repunctuated.as_bytes()),
            (5, &with_bom),
        ]);
        assert_eq!(groups, vec![group(&[1, 2, 3, 4, 5], true)]);
    }

    #[test]
    fn normalisation_lowercases_every_script_and_collapses_separators() {
        assert_eq!(
            normalise("\u{FEFF}  Hello,\r\n\tWORLD!!  ".as_bytes()),
            "hello world"
        );
        assert_eq!(normalise("ПРИВЕТ, Мир".as_bytes()), "привет мир");
        assert_eq!(normalise("你好，世界。".as_bytes()), "你好 世界");
        assert_eq!(
            normalise("caf\u{0065}\u{0301} zero\u{200B}width".as_bytes()),
            "cafe\u{0301} zerowidth"
        );
        assert_eq!(
            normalise(b"caf\xE9 ok"),
            "caf ok",
            "invalid UTF-8 is replaced"
        );
        assert_eq!(normalise(" ... \r\n ".as_bytes()), "");
    }

    #[test]
    fn a_copy_with_one_sentence_changed_is_near_identical() {
        let edited = LETTER.replace(
            "Publishing the original text allows anyone to check what was actually said and by whom.",
            "Publishing the original text lets everyone verify what each respondent really wrote.",
        );
        assert_ne!(edited, LETTER);
        let groups = groups_of(&[(10, LETTER.as_bytes()), (11, edited.as_bytes())]);
        assert_eq!(groups, vec![group(&[10, 11], false)]);
    }

    #[test]
    fn unrelated_texts_do_not_group() {
        let other = "Our association represents small radio amateurs in rural areas. We ask that \
            the spectrum plan keep the 40 metre band open for emergency traffic, because during \
            the floods of last spring it was the only link between several villages and the \
            regional hospital. We are ready to share our logs with the Group.";
        let mut stream = Stream(1);
        let generated: Vec<String> = (0..20).map(|_| stream.words(150).join(" ")).collect();
        let mut texts: Vec<(u64, &[u8])> = vec![(1, LETTER.as_bytes()), (2, other.as_bytes())];
        texts.extend((3..).zip(generated.iter().map(|t| t.as_bytes())));
        assert_eq!(groups_of(&texts), vec![]);
    }

    #[test]
    fn short_texts_group_only_when_exactly_equal() {
        let groups = groups_of(&[
            (1, b"I agree."),
            (2, b"i AGREE"),
            (3, b"I agreed"),
            (4, b"I support option A"),
            (5, b"I support option B"),
            (6, b"We support option A of the plan"),
            (7, b"We support option B of the plan"),
            (8, b"I support option A!"),
            (9, b"We strongly support option A"),
            (10, b"We strongly support option B"),
        ]);
        assert_eq!(groups, vec![group(&[1, 2], true), group(&[4, 8], true)]);
    }

    #[test]
    fn empty_texts_never_group() {
        let groups = groups_of(&[
            (1, b""),
            (2, b""),
            (3, b"   \r\n "),
            (4, b"!!! ..."),
            (5, b"\xEF\xBB\xBF"),
            (6, b"\xEF\xBB\xBF"),
        ]);
        assert_eq!(groups, vec![]);
    }

    #[test]
    fn groups_are_transitive() {
        let mut stream = Stream(2);
        let a = stream.words(300);
        let mut b = a.clone();
        b[10..32].clone_from_slice(&stream.words(22));
        let mut c = b.clone();
        c[200..222].clone_from_slice(&stream.words(22));
        let (a, b, c) = (a.join(" "), b.join(" "), c.join(" "));
        assert!(near(&a, &b), "a is near b");
        assert!(near(&b, &c), "b is near c");
        assert!(!near(&a, &c), "a alone is not near c");
        let groups = groups_of(&[(1, a.as_bytes()), (2, c.as_bytes()), (3, b.as_bytes())]);
        assert_eq!(groups, vec![group(&[1, 2, 3], false)]);
    }

    #[test]
    fn exact_and_near_copies_form_one_group_that_is_not_identical() {
        let edited = LETTER.replace("three practical points", "three practical matters");
        let groups = groups_of(&[
            (9, LETTER.as_bytes()),
            (4, edited.as_bytes()),
            (7, LETTER.to_lowercase().as_bytes()),
            (2, b"I agree"),
            (1, b"i agree!"),
        ]);
        assert_eq!(
            groups,
            vec![group(&[1, 2], true), group(&[4, 7, 9], false)],
            "members sorted by number, groups by their first number"
        );
    }

    #[test]
    fn chinese_and_arabic_near_copies_group() {
        let chinese = "我们认为这项提案对于保护发展中国家的传统知识非常重要。秘书处应当在下一次会议\
            之前公布所有收到的意见，并确保每一份意见都按照原文发布，不作任何修改。我们还建议延长\
            征求意见的期限，以便更多的利益相关方能够参与讨论，特别是来自农村地区和土著社区的代表。";
        let chinese_edited = chinese.replace("非常重要", "极其重要");
        let arabic = "نحن نعتقد أن هذا الاقتراح مهم جدا لحماية المعارف التقليدية في البلدان \
            النامية. ويجب على الأمانة أن تنشر جميع التعليقات الواردة قبل الاجتماع القادم، وأن \
            تضمن نشر كل تعليق كما هو دون أي تعديل. ونقترح أيضا تمديد فترة المشاورة حتى تتمكن \
            المجتمعات الريفية والأصلية من المشاركة.";
        let arabic_edited = arabic.replace("مهم جدا", "مهم للغاية");
        assert_ne!(chinese_edited, chinese);
        assert_ne!(arabic_edited, arabic);
        let groups = groups_of(&[
            (1, chinese.as_bytes()),
            (2, arabic.as_bytes()),
            (3, chinese_edited.as_bytes()),
            (4, arabic_edited.as_bytes()),
        ]);
        assert_eq!(groups, vec![group(&[1, 3], false), group(&[2, 4], false)]);
    }

    #[test]
    fn the_same_input_gives_the_same_output() {
        let mut stream = Stream(3);
        let template = stream.words(80);
        let texts: Vec<String> = (0..300)
            .map(|i| {
                if i % 3 == 0 {
                    let mut copy = template.clone();
                    copy[stream.below(80)] = stream.word();
                    copy.join(" ")
                } else {
                    stream.words(60).join(" ")
                }
            })
            .collect();
        let run = || {
            let mut index = SimilarityIndex::new();
            for (number, text) in (1..).zip(&texts) {
                index.add(number, text.as_bytes());
            }
            index.groups()
        };
        let first = run();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].numbers.len(), 100);
        assert_eq!(run(), first);
    }

    #[test]
    fn hashes_are_fixed_across_runs_and_platforms() {
        // Pinned values: a change here changes which responses a published summary groups.
        assert_eq!(mix(0), 0xe220_a839_7b1d_cdaf);
        let hello = "hello".chars().fold(0, slide);
        assert_eq!(shingle_hash(hello), 0xbe2f_7324_e4f9_25a4);
        assert_eq!(
            signature_of(LETTER)[..4],
            [893_833_541, 3_279_802_081, 835_658_723, 2_024_659_182]
        );
    }

    #[test]
    fn twenty_thousand_responses_with_fifty_campaigns() {
        const CAMPAIGNS: usize = 50;
        let mut stream = Stream(4);
        let templates: Vec<Vec<String>> = (0..CAMPAIGNS).map(|_| stream.words(200)).collect();
        let mut texts = Vec::with_capacity(20_000);
        let mut expected: Vec<Vec<u64>> = vec![Vec::new(); CAMPAIGNS];
        for (i, number) in (0..20_000).zip(1_u64..) {
            if i % 2 == 0 {
                let length = 60 + stream.below(100);
                texts.push(stream.words(length).join(" "));
            } else {
                // A campaign copy: a word changed, the sender's name added, sometimes shouted.
                let campaign = (i / 2) % CAMPAIGNS;
                let mut copy = templates[campaign].clone();
                let at = stream.below(copy.len());
                copy[at] = stream.word();
                copy.push(format!("Regards, {}.", stream.word()));
                let text = copy.join(" ");
                texts.push(if i % 7 == 0 {
                    text.to_uppercase()
                } else {
                    text
                });
                expected[campaign].push(number);
            }
        }

        let started = Instant::now();
        let mut index = SimilarityIndex::new();
        for (text, number) in texts.iter().zip(1..) {
            index.add(number, text.as_bytes());
        }
        let groups = index.groups();
        let elapsed = started.elapsed();
        eprintln!("20,000 responses indexed and grouped in {elapsed:?}");

        let mut found: Vec<Vec<u64>> = groups.into_iter().map(|g| g.numbers).collect();
        found.sort();
        expected.sort();
        let sizes: Vec<usize> = found.iter().map(Vec::len).collect();
        assert_eq!(found.len(), CAMPAIGNS, "group sizes {sizes:?}");
        assert!(found == expected, "group sizes {sizes:?}");
        // Generous, so a loaded machine passes; a comparison of every pair would take minutes.
        assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
    }
}
