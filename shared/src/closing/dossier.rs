//! The dossier the Group receives when a consultation closes: every published file, byte for
//! byte, plus an index and `responses.csv` (derived), as one ZIP archive written strictly front
//! to back, so that it can stream into an S3 multipart upload or a file without ever holding a
//! response's bytes in memory.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use jiff::Timestamp;
use jiff::tz::Offset;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::result::ZipError;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, DateTime, System, ZipWriter};

use crate::domain::{Channel, PublicFile, Receipt};

/// How much of a file is held in memory at a time while it streams into the archive.
const CHUNK: usize = 64 * 1024;

/// Entries of at least this many bytes get ZIP64 headers. Below the 4 GiB limit by a margin, so
/// that deflate's worst-case growth (well under 1 %) cannot push a compressed size past it.
const ZIP64_FROM: u64 = 0xF000_0000;

/// Every entry is an ordinary file readable by all (`rw-r--r--`).
const PERMISSIONS: u32 = 0o644;

const INDEX_CSV: &str = "index.csv";
/// The folder of the texts extracted from each response's files: derived, for searching
/// offline, apart from the responses' folders so no submitted file can clash with them.
pub const EXTRACTED_FOLDER: &str = "extracted";
const INDEX_JSON: &str = "index.json";
/// Every response as one table (see [`crate::publish::answers`]): derived, like `index.csv`.
pub const TABLE_FILE: &str = "responses.csv";

/// Why a dossier could not be written. After any error other than the name, duplicate and
/// timestamp checks (which write nothing), the dossier is abandoned: see [`DossierWriter`].
#[derive(Debug, thiserror::Error)]
pub enum DossierError {
    #[error("writing the dossier: {0}")]
    Io(#[from] io::Error),
    #[error("writing the dossier: {0}")]
    Zip(#[from] ZipError),
    /// The bytes read are not the published ones (other size or other SHA-256).
    #[error(
        "{path}: expected {expected}, read {actual}: a dossier carries only the published bytes"
    )]
    Mismatch {
        path: String,
        expected: String,
        actual: String,
    },
    /// A file name that would not stay inside its response's folder once extracted.
    #[error("{path}: not a plain file name")]
    UnsafeName { path: String },
    #[error("{path}: already in the dossier")]
    Duplicate { path: String },
    #[error("response {number}: received_at {value:?} is not a UTC time between 1980 and 2107")]
    ReceivedAt { number: u64, value: String },
    /// The files added and the files the index lists differ (paths, or a path's SHA-256).
    #[error(
        "the archive and its index disagree: listed but not added {missing:?}, added but not listed {unlisted:?}"
    )]
    Incomplete {
        missing: Vec<String>,
        unlisted: Vec<String>,
    },
    #[error("an earlier error left this dossier unfinished on purpose; start a new one")]
    Abandoned,
}

/// Writes the dossier archive entry by entry to a non-seekable sink, so memory stays flat.
///
/// Built on the zip crate's streaming mode ([`ZipWriter::new_stream`]): each entry's CRC and
/// sizes follow its bytes in a data descriptor, and entries of 3.75 GiB or more (known in
/// advance from [`PublicFile::size`]) are written with ZIP64 headers.
///
/// The same input gives the same bytes: entry times come from `received_at`, never the clock.
///
/// A write that fails half-way cannot be taken back from a non-seekable sink. So after such an
/// error, or if the writer is dropped without [`DossierWriter::finish`], nothing more reaches
/// the sink: it is left without a central directory, which no ZIP reader opens. The caller
/// discards it (aborts the multipart upload, deletes the file); it never passes for complete.
///
/// Memory: one 64 KiB buffer per file being copied, plus the archive's central directory and the
/// path and SHA-256 of every entry (both about 150 bytes per file), never the files themselves.
pub struct DossierWriter<W: Write> {
    /// `None` only once `finish` has taken it.
    zip: Option<ZipWriter<StreamWriter<Fuse<W>>>>,
    /// The path and SHA-256 of each file added, to check the index against them.
    added: BTreeMap<String, String>,
    abandoned: bool,
    zip64_from: u64,
    /// The transparency log's signed checkpoint over exactly these responses, if given.
    log_checkpoint: Option<Vec<u8>>,
    /// The size and SHA-256 of each response's extracted text, by number.
    extracted: BTreeMap<u64, (u64, String)>,
    /// `responses.csv`, written with the index, if given.
    table: Option<Box<dyn Read + Send>>,
}

/// The name of the transparency log's final checkpoint inside the dossier.
pub const CHECKPOINT_FILE: &str = "checkpoint";

impl<W: Write> DossierWriter<W> {
    pub fn new(sink: W) -> Self {
        Self::with_zip64_from(sink, ZIP64_FROM)
    }

    /// Lets the tests exercise the ZIP64 headers without writing 4 GiB.
    fn with_zip64_from(sink: W, zip64_from: u64) -> Self {
        let fuse = Fuse {
            inner: sink,
            blown: Cell::new(false),
        };
        Self {
            zip: Some(ZipWriter::new_stream(fuse)),
            added: BTreeMap::new(),
            abandoned: false,
            zip64_from,
            log_checkpoint: None,
            extracted: BTreeMap::new(),
            table: None,
        }
    }

    /// Includes the log's signed checkpoint (written with the index, as `checkpoint`).
    pub fn set_log_checkpoint(&mut self, note: Vec<u8>) {
        self.log_checkpoint = Some(note);
    }

    /// Includes `responses.csv` (written with the index, as [`TABLE_FILE`]).
    pub fn set_table(&mut self, table: Box<dyn Read + Send>) {
        self.table = Some(table);
    }

    /// Streams one published file into the archive at `{number}/{name}`, checking on the way that
    /// its bytes hash to `file.sha256` and have `file.size` bytes (error otherwise: a dossier never
    /// carries bytes other than the published ones).
    pub fn add_file(
        &mut self,
        response: &Receipt,
        file: &PublicFile,
        content: &mut dyn Read,
    ) -> Result<(), DossierError> {
        if self.abandoned {
            return Err(DossierError::Abandoned);
        }
        let path = format!("{}/{}", response.number, file.name);
        if !is_plain_file_name(&file.name) {
            return Err(DossierError::UnsafeName { path });
        }
        if self.added.contains_key(&path) {
            return Err(DossierError::Duplicate { path });
        }
        let modified = dos_time(&response.received_at).ok_or_else(|| DossierError::ReceivedAt {
            number: response.number,
            value: response.received_at.clone(),
        })?;
        let options = entry_options(compression_for(&file.media_type), modified)
            .large_file(file.size >= self.zip64_from);

        let result = self.copy_checked(&path, options, file, content);
        match result {
            Ok(()) => {
                self.added.insert(path, file.sha256.to_ascii_lowercase());
                Ok(())
            }
            Err(err) => {
                self.abandon();
                Err(err)
            }
        }
    }

    /// Adds the text extracted from a response's files at `extracted/{number}.txt`: derived,
    /// listed as such in the index, never in place of a file as sent.
    pub fn add_extracted(&mut self, response: &Receipt, text: &[u8]) -> Result<(), DossierError> {
        if self.abandoned {
            return Err(DossierError::Abandoned);
        }
        let path = extracted_path(response.number);
        if self.extracted.contains_key(&response.number) {
            return Err(DossierError::Duplicate { path });
        }
        let modified = dos_time(&response.received_at).ok_or_else(|| DossierError::ReceivedAt {
            number: response.number,
            value: response.received_at.clone(),
        })?;
        let options = entry_options(CompressionMethod::Deflated, modified);
        let written = self
            .zip
            .as_mut()
            .ok_or(DossierError::Abandoned)
            .and_then(|zip| {
                zip.start_file(path.as_str(), options)?;
                zip.write_all(text)?;
                Ok(())
            });
        if let Err(err) = written {
            self.abandon();
            return Err(err);
        }
        let sha256 = hex::encode(Sha256::digest(text));
        self.extracted
            .insert(response.number, (text.len() as u64, sha256));
        Ok(())
    }

    fn copy_checked(
        &mut self,
        path: &str,
        options: SimpleFileOptions,
        file: &PublicFile,
        content: &mut dyn Read,
    ) -> Result<(), DossierError> {
        let zip = self.zip.as_mut().ok_or(DossierError::Abandoned)?;
        zip.start_file(path, options)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0; CHUNK];
        let mut total: u64 = 0;
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            total += n as u64;
            // Refuse the excess before it reaches the sink.
            if total > file.size {
                return Err(DossierError::Mismatch {
                    path: path.to_owned(),
                    expected: format!("{} bytes", file.size),
                    actual: format!("more than {} bytes", file.size),
                });
            }
            hasher.update(&buf[..n]);
            zip.write_all(&buf[..n])?;
        }
        if total != file.size {
            return Err(DossierError::Mismatch {
                path: path.to_owned(),
                expected: format!("{} bytes", file.size),
                actual: format!("{total} bytes"),
            });
        }
        let actual = hex::encode(hasher.finalize());
        if !actual.eq_ignore_ascii_case(&file.sha256) {
            return Err(DossierError::Mismatch {
                path: path.to_owned(),
                expected: format!("SHA-256 {}", file.sha256),
                actual: format!("SHA-256 {actual}"),
            });
        }
        Ok(())
    }

    /// Writes index.csv and index.json for `responses` (all of them, in number order) and
    /// finishes the archive, returning the sink.
    ///
    /// Refuses if the files added are not exactly the files `responses` list, so the index
    /// always describes the archive. The index streams into the archive: only one reference
    /// per response is held, besides the `responses` the caller already has (~1 KB each).
    pub fn finish(mut self, responses: &[Receipt]) -> Result<W, DossierError> {
        if self.abandoned {
            return Err(DossierError::Abandoned);
        }
        let listed: BTreeMap<String, String> = responses
            .iter()
            .flat_map(|r| {
                r.files.iter().map(move |f| {
                    (
                        format!("{}/{}", r.number, f.name),
                        f.sha256.to_ascii_lowercase(),
                    )
                })
            })
            .collect();
        if listed != self.added {
            let absent = |from: &BTreeMap<String, String>, other: &BTreeMap<String, String>| {
                from.iter()
                    .filter(|(path, sha)| other.get(*path) != Some(*sha))
                    .map(|(path, _)| path.clone())
                    .collect()
            };
            return Err(DossierError::Incomplete {
                missing: absent(&listed, &self.added),
                unlisted: absent(&self.added, &listed),
            });
        }
        let mut latest: Option<Timestamp> = None;
        for r in responses {
            let at = r
                .received_at
                .parse::<Timestamp>()
                .ok()
                .filter(|at| dos_time_of(*at).is_some())
                .ok_or_else(|| DossierError::ReceivedAt {
                    number: r.number,
                    value: r.received_at.clone(),
                })?;
            latest = latest.max(Some(at));
        }
        // The index is as new as the latest response: deterministic, unlike the clock.
        let modified = latest.and_then(dos_time_of).unwrap_or_default();
        let options = entry_options(CompressionMethod::Deflated, modified);

        let zip = self.zip.as_mut().ok_or(DossierError::Abandoned)?;
        zip.start_file(INDEX_CSV, options)?;
        write_index_csv(responses, &self.extracted, &mut *zip)?;
        zip.start_file(INDEX_JSON, options)?;
        write_index_json(responses, &self.extracted, &mut *zip)?;
        if let Some(note) = &self.log_checkpoint {
            zip.start_file(CHECKPOINT_FILE, options)?;
            zip.write_all(note)?;
        }
        if let Some(table) = self.table.as_mut() {
            zip.start_file(TABLE_FILE, options)?;
            io::copy(table, &mut *zip)?;
        }
        let zip = self.zip.take().ok_or(DossierError::Abandoned)?;
        let mut sink = zip.finish()?.into_inner().inner;
        sink.flush()?;
        Ok(sink)
    }

    /// Stops every further byte from reaching the sink, so the archive stays visibly unfinished.
    fn abandon(&mut self) {
        self.abandoned = true;
        if let Some(stream) = self.zip.as_ref().and_then(ZipWriter::get_ref) {
            stream.get_ref().blown.set(true);
        }
    }
}

impl<W: Write> Drop for DossierWriter<W> {
    /// Without this, the zip crate would finish the archive on drop (central directory and all),
    /// and a dossier missing its index, or carrying refused bytes, would look complete.
    fn drop(&mut self) {
        self.abandon();
    }
}

/// The sink, with a switch that cuts it off once the dossier is abandoned: from then on writes
/// are dropped, so that the zip crate's finish-on-drop completes quietly and reaches nothing.
struct Fuse<W> {
    inner: W,
    blown: Cell<bool>,
}

impl<W: Write> Write for Fuse<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.blown.get() {
            return Ok(buf.len());
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.blown.get() {
            return Ok(());
        }
        self.inner.flush()
    }
}

fn entry_options(method: CompressionMethod, modified: DateTime) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(modified)
        // Fixed rather than the building machine's, so the bytes are the same everywhere.
        .system(System::Unix)
        .unix_permissions(PERMISSIONS)
}

/// Already-compressed formats are stored as they are (deflating them again gains nothing and
/// costs CPU); text-like formats, and any type not known to be compressed, are deflated.
fn compression_for(media_type: &str) -> CompressionMethod {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/pdf"
        | "image/png"
        | "image/jpeg"
        | "application/zip"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        | "application/vnd.oasis.opendocument.text"
        | "application/vnd.oasis.opendocument.spreadsheet"
        | "application/vnd.oasis.opendocument.presentation" => CompressionMethod::Stored,
        _ => CompressionMethod::Deflated,
    }
}

/// Published names are sanitized already; this keeps a bad one from escaping `{number}/`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control)
}

/// A `received_at` as a ZIP (MS-DOS) time, in UTC: seconds round down to even, the format's
/// resolution. `None` outside 1980–2107, the years the format can hold.
fn dos_time(received_at: &str) -> Option<DateTime> {
    dos_time_of(received_at.parse().ok()?)
}

fn dos_time_of(at: Timestamp) -> Option<DateTime> {
    let t = Offset::UTC.to_datetime(at);
    DateTime::from_date_and_time(
        u16::try_from(t.year()).ok()?,
        u8::try_from(t.month()).ok()?,
        u8::try_from(t.day()).ok()?,
        u8::try_from(t.hour()).ok()?,
        u8::try_from(t.minute()).ok()?,
        u8::try_from(t.second()).ok()?,
    )
    .ok()
}

/// index.csv: one row per file, `number,name,organization,category,country,channel,
/// received_at,file,size,sha256,derived`; a response without files still gets one row, with the
/// file columns empty. A response's extracted text follows its files as one more row, with
/// `file` `extracted/{number}.txt` and `derived` `yes` (empty for the files as sent). Rows are
/// in number order, whatever the order given.
///
/// Made to be opened in a spreadsheet, so it guards against formula injection (OWASP): a cell
/// that begins with `=`, `+`, `-`, `@`, TAB or CR gets a leading apostrophe, which makes the
/// spreadsheet show it as text instead of running it. Such a cell thus differs from the value by
/// that apostrophe: index.json carries the exact values. The file starts with a UTF-8 byte-order
/// mark (spreadsheet programs need it to read names in any script) and ends records with CRLF
/// (RFC 4180).
pub fn index_csv(responses: &[Receipt]) -> Vec<u8> {
    let mut out = Vec::new();
    write_index_csv(responses, &BTreeMap::new(), &mut out).expect("writing to memory cannot fail");
    out
}

/// index.json: {"responses":[...receipts...]} pretty-printed, exact values; with
/// `"extracted":[{number, path, size, sha256, derived: true}]` when texts were extracted.
///
/// Receipts are the public view of a response (no email address), in number order.
pub fn index_json(responses: &[Receipt]) -> Vec<u8> {
    let mut out = Vec::new();
    write_index_json(responses, &BTreeMap::new(), &mut out).expect("writing to memory cannot fail");
    out
}

fn extracted_path(number: u64) -> String {
    format!("{EXTRACTED_FOLDER}/{number}.txt")
}

fn in_number_order(responses: &[Receipt]) -> Vec<&Receipt> {
    let mut sorted: Vec<&Receipt> = responses.iter().collect();
    sorted.sort_by_key(|r| r.number);
    sorted
}

fn write_index_csv(
    responses: &[Receipt],
    extracted: &BTreeMap<u64, (u64, String)>,
    mut sink: impl Write,
) -> io::Result<()> {
    sink.write_all("\u{feff}".as_bytes())?;
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(sink);
    csv.write_record([
        "number",
        "name",
        "organization",
        "category",
        "country",
        "channel",
        "received_at",
        "file",
        "size",
        "sha256",
        "derived",
    ])?;
    for r in in_number_order(responses) {
        let number = r.number.to_string();
        let response: [&str; 7] = [
            number.as_str(),
            &r.name,
            r.organization.as_deref().unwrap_or_default(),
            r.category.map(|c| c.code()).unwrap_or_default(),
            r.country.as_ref().map(|c| c.as_str()).unwrap_or_default(),
            channel_code(r.channel),
            &r.received_at,
        ];
        let mut files: Vec<[String; 4]> = if r.files.is_empty() {
            vec![Default::default()]
        } else {
            r.files
                .iter()
                .map(|f| {
                    [
                        f.name.clone(),
                        f.size.to_string(),
                        f.sha256.clone(),
                        String::new(),
                    ]
                })
                .collect()
        };
        if let Some((size, sha256)) = extracted.get(&r.number) {
            files.push([
                extracted_path(r.number),
                size.to_string(),
                sha256.clone(),
                "yes".to_owned(),
            ]);
        }
        for file in &files {
            let row = response
                .iter()
                .copied()
                .chain(file.iter().map(String::as_str));
            csv.write_record(row.map(spreadsheet_safe))?;
        }
    }
    csv.flush()
}

/// OWASP's guard against formula injection: a leading apostrophe makes a spreadsheet show the
/// cell as text instead of running it.
fn spreadsheet_safe(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

fn channel_code(channel: Channel) -> &'static str {
    match channel {
        Channel::Web => "web",
        Channel::Api => "api",
        Channel::Email => "email",
    }
}

fn write_index_json(
    responses: &[Receipt],
    extracted: &BTreeMap<u64, (u64, String)>,
    mut sink: impl Write,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct Derived<'a> {
        number: u64,
        path: String,
        size: u64,
        sha256: &'a str,
        /// Always true: extracted automatically, not the record.
        derived: bool,
    }
    #[derive(Serialize)]
    struct Index<'a> {
        responses: Vec<&'a Receipt>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        extracted: Vec<Derived<'a>>,
    }
    let index = Index {
        responses: in_number_order(responses),
        extracted: extracted
            .iter()
            .map(|(number, (size, sha256))| Derived {
                number: *number,
                path: extracted_path(*number),
                size: *size,
                sha256,
                derived: true,
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut sink, &index)?;
    sink.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io::Cursor;
    use std::rc::Rc;

    use zip::ZipArchive;

    use super::*;
    use crate::domain::site_paths::file_url;
    use crate::domain::{Category, ConsultationId, Country, ResponseId};

    /// A sink that can only be written to: no `Seek`, as an S3 multipart upload.
    #[derive(Debug, Clone, Default)]
    struct NoSeek(Rc<RefCell<Vec<u8>>>);

    impl Write for NoSeek {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl NoSeek {
        fn bytes(&self) -> Vec<u8> {
            self.0.borrow().clone()
        }
    }

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn public_file(number: u64, name: &str, media_type: &str, bytes: &[u8]) -> PublicFile {
        PublicFile {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            size: bytes.len() as u64,
            sha256: sha256(bytes),
            url: file_url(&consultation(), number, name),
        }
    }

    fn consultation() -> ConsultationId {
        ConsultationId::parse("cwg-internet-2026").unwrap()
    }

    fn receipt(number: u64, name: &str, received_at: &str, files: Vec<PublicFile>) -> Receipt {
        Receipt {
            id: ResponseId::new(),
            number,
            consultation: consultation(),
            received_at: received_at.to_owned(),
            channel: Channel::Web,
            name: name.to_owned(),
            organization: None,
            category: None,
            country: None,
            files,
            log: None,
        }
    }

    const PDF: &[u8] = b"%PDF-1.7\r\n%\xE2\xE3\xCF\xD3\r\n\0\0\xFF\xFE binary\n\r\n";
    const TXT: &[u8] = b"\xEF\xBB\xBF\xE5\x9B\x9E\xE5\xBA\x94\r\nline\0two \xFF\xFE\xC3(\r\n\r\n";
    const DOCX: &[u8] = b"PK\x03\x04\x14\0\0\0\0\0 not really a docx \0\r\n";

    /// Three responses: awkward bytes and names, one without files, formula-like fields.
    fn sample() -> Vec<(Receipt, Vec<&'static [u8]>)> {
        let mut first = receipt(
            1,
            "Ada Lovelace",
            "2026-11-28T09:40:01.999Z",
            vec![
                public_file(1, "Réponse.pdf", "application/pdf", PDF),
                public_file(1, "回应.txt", "text/plain", TXT),
            ],
        );
        first.organization = Some("=HYPERLINK(\"http://evil\",\"x\")".to_owned());
        first.category = Some(Category::CivilSociety);
        first.country = Some(Country::parse("CH").unwrap());
        let mut second = receipt(2, "-2+3", "2026-11-29T23:59:59.000Z", vec![]);
        second.channel = Channel::Email;
        let mut third = receipt(
            3,
            "Zoë, \"quoted\"",
            "2026-11-30T12:00:00.000Z",
            vec![public_file(
                3,
                "notes.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                DOCX,
            )],
        );
        third.channel = Channel::Api;
        vec![
            (first, vec![PDF, TXT]),
            (second, vec![]),
            (third, vec![DOCX]),
        ]
    }

    fn build_with(responses: &[(Receipt, Vec<&[u8]>)], zip64_from: u64) -> Vec<u8> {
        let sink = NoSeek::default();
        let mut writer = DossierWriter::with_zip64_from(sink.clone(), zip64_from);
        for (r, contents) in responses {
            for (file, bytes) in r.files.iter().zip(contents) {
                writer.add_file(r, file, &mut &bytes[..]).unwrap();
            }
        }
        let receipts: Vec<Receipt> = responses.iter().map(|(r, _)| r.clone()).collect();
        writer.finish(&receipts).unwrap();
        sink.bytes()
    }

    fn build(responses: &[(Receipt, Vec<&[u8]>)]) -> Vec<u8> {
        build_with(responses, ZIP64_FROM)
    }

    fn read_entry(archive: &mut ZipArchive<Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
        let mut entry = archive.by_name(name).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn every_file_is_kept_byte_for_byte_under_its_number() {
        let responses = sample();
        let mut archive = ZipArchive::new(Cursor::new(build(&responses))).unwrap();

        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "1/Réponse.pdf",
                "1/回应.txt",
                "3/notes.docx",
                "index.csv",
                "index.json"
            ]
        );
        for (r, contents) in &responses {
            for (file, bytes) in r.files.iter().zip(contents) {
                let path = format!("{}/{}", r.number, file.name);
                assert_eq!(read_entry(&mut archive, &path), *bytes, "{path}");
            }
        }
        archive.validate_header_consistency().unwrap();
    }

    #[test]
    fn entries_carry_received_at_permissions_and_fitting_compression() {
        let mut archive = ZipArchive::new(Cursor::new(build(&sample()))).unwrap();
        let expected = [
            (
                "1/Réponse.pdf",
                CompressionMethod::Stored,
                (2026, 11, 28, 9, 40, 0),
            ),
            (
                "1/回应.txt",
                CompressionMethod::Deflated,
                (2026, 11, 28, 9, 40, 0),
            ),
            (
                "3/notes.docx",
                CompressionMethod::Stored,
                (2026, 11, 30, 12, 0, 0),
            ),
            // The index is as new as the latest response.
            (
                "index.csv",
                CompressionMethod::Deflated,
                (2026, 11, 30, 12, 0, 0),
            ),
            (
                "index.json",
                CompressionMethod::Deflated,
                (2026, 11, 30, 12, 0, 0),
            ),
        ];
        for (name, method, (y, mo, d, h, mi, s)) in expected {
            let entry = archive.by_name(name).unwrap();
            assert_eq!(entry.compression(), method, "{name}");
            assert_eq!(entry.unix_mode().unwrap() & 0o777, 0o644, "{name}");
            assert!(entry.is_file(), "{name}");
            let t = entry.last_modified().unwrap();
            assert_eq!(
                (
                    t.year(),
                    t.month(),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                ),
                (y, mo, d, h, mi, s),
                "{name}"
            );
        }
    }

    #[test]
    fn index_json_lists_every_receipt_exactly() {
        let responses = sample();
        let mut archive = ZipArchive::new(Cursor::new(build(&responses))).unwrap();
        let json = read_entry(&mut archive, INDEX_JSON);
        let receipts: Vec<Receipt> = responses.iter().map(|(r, _)| r.clone()).collect();
        assert_eq!(json, index_json(&receipts));

        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let listed: Vec<Receipt> = serde_json::from_value(value["responses"].clone()).unwrap();
        assert_eq!(listed, receipts, "exact values, formula-like ones included");
        assert_eq!(value.as_object().unwrap().len(), 1);
        assert!(!String::from_utf8(json).unwrap().contains("email\":"));
    }

    #[test]
    fn index_csv_has_a_row_per_file_and_one_per_response_without_files() {
        let responses = sample();
        let mut archive = ZipArchive::new(Cursor::new(build(&responses))).unwrap();
        let csv = read_entry(&mut archive, INDEX_CSV);
        let receipts: Vec<Receipt> = responses.iter().map(|(r, _)| r.clone()).collect();
        assert_eq!(csv, index_csv(&receipts));

        let text = String::from_utf8(csv).unwrap();
        let text = text.strip_prefix('\u{feff}').expect("a UTF-8 BOM");
        let pdf = &receipts[0].files[0];
        let txt = &receipts[0].files[1];
        let docx = &receipts[2].files[0];
        let expected = format!(
            "number,name,organization,category,country,channel,received_at,file,size,sha256,derived\r\n\
             1,Ada Lovelace,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",civil-society,CH,web,2026-11-28T09:40:01.999Z,Réponse.pdf,{},{},\r\n\
             1,Ada Lovelace,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",civil-society,CH,web,2026-11-28T09:40:01.999Z,回应.txt,{},{},\r\n\
             2,'-2+3,,,,email,2026-11-29T23:59:59.000Z,,,,\r\n\
             3,\"Zoë, \"\"quoted\"\"\",,,,api,2026-11-30T12:00:00.000Z,notes.docx,{},{},\r\n",
            pdf.size, pdf.sha256, txt.size, txt.sha256, docx.size, docx.sha256
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn extracted_texts_have_their_own_folder_and_are_listed_as_derived() {
        let responses = sample();
        let sink = NoSeek::default();
        let mut writer = DossierWriter::new(sink.clone());
        for (r, contents) in &responses {
            for (file, bytes) in r.files.iter().zip(contents) {
                writer.add_file(r, file, &mut &bytes[..]).unwrap();
            }
        }
        // A file named like the text cannot clash: files live under their number's folder.
        writer
            .add_extracted(&responses[0].0, b"Derived text of response 1")
            .unwrap();
        assert!(matches!(
            writer.add_extracted(&responses[0].0, b"again"),
            Err(DossierError::Duplicate { .. })
        ));
        let receipts: Vec<Receipt> = responses.iter().map(|(r, _)| r.clone()).collect();
        writer.finish(&receipts).unwrap();
        let mut archive = ZipArchive::new(Cursor::new(sink.bytes())).unwrap();
        assert_eq!(
            read_entry(&mut archive, "extracted/1.txt"),
            b"Derived text of response 1"
        );
        let csv = String::from_utf8(read_entry(&mut archive, INDEX_CSV)).unwrap();
        let sha = hex::encode(Sha256::digest(b"Derived text of response 1"));
        assert!(
            csv.contains(&format!(",extracted/1.txt,26,{sha},yes\r\n2,")),
            "{csv}"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&read_entry(&mut archive, INDEX_JSON)).unwrap();
        assert_eq!(
            json["extracted"],
            serde_json::json!([{"number": 1, "path": "extracted/1.txt", "size": 26, "sha256": sha, "derived": true}])
        );
    }

    #[test]
    fn the_index_is_in_number_order_whatever_the_order_given() {
        let mut receipts: Vec<Receipt> = sample().into_iter().map(|(r, _)| r).collect();
        let ordered = (index_csv(&receipts), index_json(&receipts));
        receipts.reverse();
        assert_eq!((index_csv(&receipts), index_json(&receipts)), ordered);
    }

    #[test]
    fn csv_cells_cannot_run_as_formulas() {
        let hostile = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"];
        for value in hostile {
            assert_eq!(spreadsheet_safe(value), format!("'{value}"));
        }
        for value in ["plain", "1=1", "a-b", "", "'quoted", " =1"] {
            assert_eq!(spreadsheet_safe(value), value);
        }

        let receipts: Vec<Receipt> = hostile
            .iter()
            .enumerate()
            .map(|(i, name)| receipt(i as u64 + 1, name, "2026-11-28T09:40:00.000Z", vec![]))
            .collect();
        let csv = index_csv(&receipts);
        let mut reader = csv::Reader::from_reader(&csv[3..]);
        let names: Vec<String> = reader.records().map(|r| r.unwrap()[1].to_owned()).collect();
        let guarded: Vec<String> = hostile.iter().map(|v| format!("'{v}")).collect();
        assert_eq!(names, guarded);
    }

    #[test]
    fn a_writer_can_move_to_a_blocking_thread() {
        fn send<T: Send>() {}
        send::<DossierWriter<std::fs::File>>();
    }

    #[test]
    fn the_same_input_gives_the_same_bytes() {
        let responses = sample();
        assert_eq!(build(&responses), build(&responses));
    }

    #[test]
    fn bytes_other_than_the_published_ones_are_refused() {
        let responses = sample();
        let (first, _) = &responses[0];
        let file = &first.files[0];
        let mut other = PDF.to_vec();
        other[3] ^= 1;
        let too_long = [PDF, b"!"].concat();
        let cases: [(&[u8], &str); 3] = [
            (&other, "SHA-256"),
            (&PDF[1..], "bytes"),
            (&too_long, "more than"),
        ];
        for (bytes, what) in cases {
            let sink = NoSeek::default();
            let mut writer = DossierWriter::new(sink.clone());
            let err = writer.add_file(first, file, &mut &bytes[..]).unwrap_err();
            match &err {
                DossierError::Mismatch { path, actual, .. } => {
                    assert_eq!(path, "1/Réponse.pdf");
                    assert!(actual.contains(what), "{actual}");
                }
                other => panic!("{other:?}"),
            }
            // Abandoned: nothing more is written, and what was written is no archive.
            let err = writer
                .add_file(first, &first.files[1], &mut &TXT[..])
                .unwrap_err();
            assert!(matches!(err, DossierError::Abandoned), "{err:?}");
            let written = sink.bytes().len();
            let err = writer.finish(std::slice::from_ref(first)).unwrap_err();
            assert!(matches!(err, DossierError::Abandoned), "{err:?}");
            assert_eq!(sink.bytes().len(), written);
            assert!(ZipArchive::new(Cursor::new(sink.bytes())).is_err());
        }
    }

    #[test]
    fn a_writer_dropped_unfinished_leaves_no_readable_archive() {
        let responses = sample();
        let (first, contents) = &responses[0];
        let sink = NoSeek::default();
        let mut writer = DossierWriter::new(sink.clone());
        writer
            .add_file(first, &first.files[0], &mut &contents[0][..])
            .unwrap();
        drop(writer);
        assert!(!sink.bytes().is_empty());
        assert!(ZipArchive::new(Cursor::new(sink.bytes())).is_err());
    }

    #[test]
    fn the_index_must_match_the_files_added() {
        let responses = sample();
        let receipts: Vec<Receipt> = responses.iter().map(|(r, _)| r.clone()).collect();
        let (first, contents) = &responses[0];

        let mut writer = DossierWriter::new(NoSeek::default());
        writer
            .add_file(first, &first.files[0], &mut &contents[0][..])
            .unwrap();
        match writer.finish(&receipts).unwrap_err() {
            DossierError::Incomplete { missing, unlisted } => {
                assert_eq!(missing, ["1/回应.txt", "3/notes.docx"]);
                assert!(unlisted.is_empty());
            }
            other => panic!("{other:?}"),
        }

        let mut writer = DossierWriter::new(NoSeek::default());
        writer
            .add_file(first, &first.files[0], &mut &contents[0][..])
            .unwrap();
        match writer.finish(&[]).unwrap_err() {
            DossierError::Incomplete { missing, unlisted } => {
                assert!(missing.is_empty());
                assert_eq!(unlisted, ["1/Réponse.pdf"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_that_could_leave_their_folder_are_refused() {
        let responses = sample();
        let (first, _) = &responses[0];
        let mut writer = DossierWriter::new(NoSeek::default());
        for name in ["", ".", "..", "../x", "a/b", "a\\b", "a\0b", "a\nb"] {
            let mut file = public_file(1, name, "text/plain", b"x");
            file.name = name.to_owned();
            let err = writer.add_file(first, &file, &mut &b"x"[..]).unwrap_err();
            assert!(matches!(err, DossierError::UnsafeName { .. }), "{name:?}");
        }
        // Nothing was written for them, so the writer goes on.
        let file = public_file(1, "x", "text/plain", b"x");
        writer.add_file(first, &file, &mut &b"x"[..]).unwrap();
        let err = writer.add_file(first, &file, &mut &b"x"[..]).unwrap_err();
        assert!(matches!(err, DossierError::Duplicate { .. }), "{err:?}");
    }

    #[test]
    fn received_at_becomes_a_dos_time_in_utc() {
        let t = dos_time("2026-11-28T23:59:59.999Z").unwrap();
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2026, 11, 28, 23, 59, 58)
        );
        let t = dos_time("2026-11-28T10:40:03+01:00").unwrap();
        assert_eq!((t.hour(), t.minute(), t.second()), (9, 40, 2));
        assert!(dos_time("1979-12-31T23:59:59Z").is_none());
        assert!(dos_time("2108-01-01T00:00:00Z").is_none());
        assert!(dos_time("yesterday").is_none());

        let mut r = receipt(1, "Ada", "not a time", vec![]);
        let file = public_file(1, "a.txt", "text/plain", b"a");
        r.files.push(file.clone());
        let mut writer = DossierWriter::new(NoSeek::default());
        let err = writer.add_file(&r, &file, &mut &b"a"[..]).unwrap_err();
        assert!(matches!(err, DossierError::ReceivedAt { number: 1, .. }));
    }

    #[test]
    fn compression_fits_the_media_type() {
        for stored in [
            "application/pdf",
            "image/png",
            "image/jpeg",
            "application/zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
            "Application/PDF; x=y",
        ] {
            assert_eq!(
                compression_for(stored),
                CompressionMethod::Stored,
                "{stored}"
            );
        }
        for deflated in [
            "text/plain",
            "text/plain; charset=utf-8",
            "text/html",
            "application/rtf",
            "application/msword",
            "application/octet-stream",
        ] {
            assert_eq!(
                compression_for(deflated),
                CompressionMethod::Deflated,
                "{deflated}"
            );
        }
    }

    /// The first entry's local header fields and data descriptor, as a streaming reader sees them.
    fn first_entry_layout(bytes: &[u8]) -> (u16, Vec<u8>, Vec<u8>) {
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let version_needed = u16_at(4);
        assert_eq!(u16_at(6) & 0x0808, 0x0808, "data descriptor and UTF-8 name");
        assert_eq!(&bytes[18..26], &[0; 8], "sizes follow the data");
        let name_len = usize::from(u16_at(26));
        let extra_len = usize::from(u16_at(28));
        let extra_at = 30 + name_len;
        let extra = bytes[extra_at..extra_at + extra_len].to_vec();
        let descriptor_at = extra_at + extra_len + PDF.len();
        let descriptor = bytes[descriptor_at..].to_vec();
        (version_needed, extra, descriptor)
    }

    #[test]
    fn entries_stream_with_data_descriptors() {
        let bytes = build(&sample());
        let (version_needed, extra, descriptor) = first_entry_layout(&bytes);
        assert!(version_needed < 45, "no ZIP64 for a small file");
        assert!(extra.is_empty());
        let crc = &descriptor[4..8];
        assert_eq!(&descriptor[..4], b"PK\x07\x08");
        assert_ne!(crc, [0; 4]);
        let size = (PDF.len() as u32).to_le_bytes();
        assert_eq!(&descriptor[8..16], [size, size].concat());
    }

    #[test]
    fn zip64_entries_read_back() {
        // Every entry ZIP64, as one of 4 GiB or more would be.
        let responses = sample();
        let bytes = build_with(&responses, 0);
        let (version_needed, extra, descriptor) = first_entry_layout(&bytes);
        assert!(version_needed >= 45, "ZIP64 needs version 4.5");
        assert_eq!(&extra[..4], [1, 0, 16, 0], "a ZIP64 extra field");
        assert_eq!(&descriptor[..4], b"PK\x07\x08");
        let size = (PDF.len() as u64).to_le_bytes();
        assert_eq!(&descriptor[8..24], [size, size].concat(), "64-bit sizes");

        let mut archive = ZipArchive::new(Cursor::new(bytes)).unwrap();
        for (r, contents) in &responses {
            for (file, content) in r.files.iter().zip(contents) {
                let path = format!("{}/{}", r.number, file.name);
                assert_eq!(read_entry(&mut archive, &path), *content);
            }
        }
        archive.validate_header_consistency().unwrap();
    }

    /// The memory check reads /proc, so it runs on Linux only.
    #[cfg(target_os = "linux")]
    mod streaming {
        use super::*;

        /// Bytes that depend only on their position, so two passes give the same stream whatever
        /// the sizes of the reads.
        struct Generated {
            position: u64,
            len: u64,
        }

        impl Read for Generated {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min((self.len - self.position) as usize);
                let mut word = splitmix64(self.position / 8).to_le_bytes();
                for (i, byte) in buf[..n].iter_mut().enumerate() {
                    let at = self.position + i as u64;
                    if at.is_multiple_of(8) {
                        word = splitmix64(at / 8).to_le_bytes();
                    }
                    *byte = word[(at % 8) as usize];
                }
                self.position += n as u64;
                Ok(n)
            }
        }

        fn splitmix64(seed: u64) -> u64 {
            let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// A sink that keeps nothing: what stays resident is the writer's own doing.
        struct Counter(u64);

        impl Write for Counter {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0 += buf.len() as u64;
                Ok(buf.len())
            }

            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        /// Peak resident memory of this process so far, in KiB (Linux).
        fn peak_resident_kib() -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .expect("VmHWM in /proc/self/status");
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        }

        /// Streams a file larger than the writer could hide in a buffer into a sink that keeps
        /// nothing. The peak-memory figure is printed, not asserted: other tests share this
        /// process; `cargo bench -p verbatim-shared --bench dossier` measures it on its own.
        #[test]
        fn a_large_file_streams_through_in_flat_memory() {
            const LEN: u64 = 64 * 1024 * 1024;
            let generated = || Generated {
                position: 0,
                len: LEN,
            };
            let mut hasher = Sha256::new();
            let mut buf = vec![0; CHUNK];
            let mut source = generated();
            loop {
                let n = source.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            let file = PublicFile {
                name: "large.pdf".to_owned(),
                media_type: "application/pdf".to_owned(),
                size: LEN,
                sha256: hex::encode(hasher.finalize()),
                url: file_url(&consultation(), 1, "large.pdf"),
            };
            let r = receipt(1, "Ada", "2026-11-28T09:40:00.000Z", vec![file.clone()]);

            let before = peak_resident_kib();
            let mut writer = DossierWriter::new(Counter(0));
            writer.add_file(&r, &file, &mut generated()).unwrap();
            let sink = writer.finish(&[r]).unwrap();
            let grown_mib = (peak_resident_kib() - before) / 1024;
            eprintln!("peak resident memory grew by {grown_mib} MiB");

            assert!(sink.0 > LEN, "the archive holds the whole file");
        }
    }
}
