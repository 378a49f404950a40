//! What publication derives from the answers per question: a page per question listing every
//! answer to it, and `responses.csv`, one row per response. Both are derived for reading; the
//! published files (`answer-{k}.txt`, `response.txt`) stay the exact record.
//!
//! Both are built page by page, with the response pages (`PAGE_SIZE` responses a page), so a
//! publication round reads and writes only the pages its new responses land on:
//! - question `k`'s page `p` lists the answers to `k` among the responses of page `p`; it is
//!   written when page `p` gets its first response (for every question, so that every page the
//!   navigation links to exists) and then only when a new response of page `p` answers `k`;
//! - the CSV rows of page `p` are kept privately as one part (`csv/{id}/{p}-{rows}.csv`),
//!   rewritten with the page. `responses.csv` is those parts after a byte-order mark and the
//!   header, assembled when the search index is rebuilt (at most once a minute while
//!   responses arrive, held in a rush, and at the close) and for the dossier: assembling
//!   copies every part, so it is not done every round.
//!
//! The texts are decoded for reading as the reading room decodes them (UTF-8, UTF-16 with its
//! mark, else Windows-1252; at most `extract::MAX_TEXT_BYTES` of one), and the CSV's cells
//! are neutralised against formulas: neither is the record.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;

use crate::domain::answer::{self, AnswerEntry};
use crate::domain::site_paths::{self, Edition, PAGE_SIZE};
use crate::domain::{ConsultationId, Response};
use crate::intake::TEXT_FILE_NAME;
use crate::intake::spool::{Spool, SpooledFile};
use crate::ports::{
    Body, ConsultationRecord, ObjectKey, ObjectMeta, ObjectStore, PutMode, Responses,
};

use super::{PublishError, key};

/// How many texts are read at once.
const READS_AT_ONCE: usize = 16;
/// The most of one answer a question page shows (its file has the whole answer): a page lists
/// up to a page of answers, in seven editions.
pub const QUESTION_PAGE_TEXT_BYTES: usize = 8 * 1024;

/// Where the CSV rows of page `page`'s first `rows` responses are kept (private: only
/// `responses.csv` is published). The count in the name lets the table take exactly the rows
/// it needs: a part written before the page's later responses were published is not taken
/// for the whole page.
pub fn csv_part_key(id: &ConsultationId, page: u64, rows: usize) -> String {
    format!("csv/{id}/{page}-{rows}.csv")
}

/// `responses.csv`'s first row: the columns.
pub fn csv_header(questions: usize) -> Vec<u8> {
    let mut columns: Vec<String> = [
        "number",
        "received_at",
        "channel",
        "name",
        "organization",
        "category",
        "country",
    ]
    .map(str::to_owned)
    .to_vec();
    columns.extend((1..=questions).map(|k| format!("answer_{k}")));
    columns.extend(["text", "files", "file_urls"].map(str::to_owned));
    csv_row(&columns)
}

/// One CSV record, RFC 4180 (fields quoted where needed, CRLF at the end), each field
/// neutralised against formula injection.
pub fn csv_row<S: AsRef<str>>(fields: &[S]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer
        .write_record(fields.iter().map(|f| neutralised(f.as_ref()).into_owned()))
        .expect("writing to memory cannot fail");
    writer.into_inner().expect("writing to memory cannot fail")
}

/// A cell a spreadsheet would read as a formula (starting with `=`, `+`, `-` or `@`) gets a
/// leading `'`, so opening the table runs nothing a submitter wrote (OWASP, CSV Injection).
pub fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The words of a published text file, decoded as the reading room decodes them.
fn words(bytes: &[u8]) -> Option<crate::extract::Extracted> {
    crate::extract::extract("text/plain", bytes).ok()
}

/// A response's texts: its free text and its answers (by question), read from the originals.
struct Texts {
    text: Option<String>,
    answers: BTreeMap<usize, Option<crate::extract::Extracted>>,
}

async fn texts_of(
    private: &dyn ObjectStore,
    response: &Response,
    questions: usize,
) -> Result<Texts, PublishError> {
    let mut texts = Texts {
        text: None,
        answers: BTreeMap::new(),
    };
    for file in &response.response.files {
        let question = answer::question_of_file(&file.name).filter(|k| *k <= questions);
        if question.is_none() && file.name != TEXT_FILE_NAME {
            continue;
        }
        let source = key(file.original_key.clone())?;
        let Some(object) = private.get(&source).await? else {
            return Err(PublishError::MissingOriginal(file.original_key.clone()));
        };
        let read = words(&object.into_bytes().await?);
        match question {
            Some(k) => {
                texts.answers.insert(k, read);
            }
            None => texts.text = read.map(|w| w.text),
        }
    }
    Ok(texts)
}

/// The CSV record of one response. Never the email address: it is private.
fn row_of(response: &Response, questions: usize, texts: &Texts) -> Vec<u8> {
    let receipt = response.receipt();
    let mut fields = vec![
        receipt.number.to_string(),
        receipt.received_at.clone(),
        match receipt.channel {
            crate::domain::Channel::Web => "web",
            crate::domain::Channel::Api => "api",
            crate::domain::Channel::Email => "email",
        }
        .to_owned(),
        receipt.name.clone(),
        receipt.organization.clone().unwrap_or_default(),
        receipt
            .category
            .map(|c| c.code().to_owned())
            .unwrap_or_default(),
        receipt
            .country
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
    ];
    fields.extend((1..=questions).map(|k| {
        texts
            .answers
            .get(&k)
            .and_then(|w| w.as_ref())
            .map(|w| w.text.clone())
            .unwrap_or_default()
    }));
    fields.push(texts.text.clone().unwrap_or_default());
    let names: Vec<&str> = receipt.files.iter().map(|f| f.name.as_str()).collect();
    let urls: Vec<&str> = receipt.files.iter().map(|f| f.url.as_str()).collect();
    fields.push(names.join("\n"));
    fields.push(urls.join("\n"));
    csv_row(&fields)
}

/// After page `page`'s new responses (numbers above `done`) are copied: its CSV part, and the
/// pages of the questions it changed (every question's, when the page is new).
pub async fn publish_page(
    private: &dyn ObjectStore,
    site: &dyn ObjectStore,
    record: &ConsultationRecord,
    page: u64,
    responses: &[Response],
    done: u64,
) -> Result<(), PublishError> {
    let c = &record.consultation;
    let questions = c.questions.len();
    let fresh = done < (page - 1) * PAGE_SIZE + 1;
    let touched: BTreeSet<usize> = if fresh {
        (1..=questions).collect()
    } else {
        responses
            .iter()
            .filter(|r| r.number > done)
            .flat_map(|r| r.response.files.iter())
            .filter_map(|f| answer::question_of_file(&f.name))
            .filter(|k| *k <= questions)
            .collect()
    };
    let texts = write_part(private, &c.id, page, responses, questions).await?;
    // The page's previous part is superseded (and rebuilt if a table ever needs it again).
    let before = responses.iter().filter(|r| r.number <= done).count();
    if before > 0 && before < responses.len() {
        private
            .delete(&key(csv_part_key(&c.id, page, before))?)
            .await?;
    }

    let total = record.response_count;
    for k in touched {
        let entries: Vec<AnswerEntry> = responses
            .iter()
            .zip(&texts)
            .filter_map(|(response, texts)| {
                let receipt = response.receipt();
                let file = receipt
                    .files
                    .iter()
                    .find(|f| answer::question_of_file(&f.name) == Some(k))?
                    .clone();
                let read = texts.answers.get(&k).and_then(|w| w.as_ref());
                let (text, cut) = match read {
                    Some(w) => {
                        let shown =
                            crate::site::response_pages::cut(&w.text, QUESTION_PAGE_TEXT_BYTES);
                        (
                            Some(shown.to_owned()),
                            shown.len() < w.text.len() || w.truncated,
                        )
                    }
                    None => (None, false),
                };
                Some(AnswerEntry {
                    number: receipt.number,
                    name: receipt.name,
                    organization: receipt.organization,
                    file,
                    text,
                    cut,
                })
            })
            .collect();
        for edition in Edition::all() {
            let html = crate::site::response_pages::question_page(
                edition, record, k, page, total, &entries,
            );
            let page_key = key(edition.key(&site_paths::question_key(&c.id, k, page)))?;
            site.put_deferred(
                &page_key,
                Body::Bytes(html.into_bytes().into()),
                &crate::site::site_meta(page_key.as_str()),
                PutMode::Overwrite,
            )
            .await?;
        }
    }
    Ok(())
}

/// Reads the texts of `responses` (a page) and keeps their CSV rows as the page's part.
async fn write_part(
    private: &dyn ObjectStore,
    id: &ConsultationId,
    page: u64,
    responses: &[Response],
    questions: usize,
) -> Result<Vec<Texts>, PublishError> {
    let mut texts = Vec::with_capacity(responses.len());
    for group in responses.chunks(READS_AT_ONCE) {
        let reads = group.iter().map(|r| texts_of(private, r, questions));
        texts.extend(futures::future::try_join_all(reads).await?);
    }
    let mut part = Vec::new();
    for (response, texts) in responses.iter().zip(&texts) {
        part.extend(row_of(response, questions, texts));
    }
    private
        .put(
            &key(csv_part_key(id, page, responses.len()))?,
            Body::Bytes(part.into()),
            &ObjectMeta::plain_text(),
            PutMode::Overwrite,
        )
        .await?;
    Ok(texts)
}

/// `responses.csv` of the first `published` responses: a UTF-8 byte-order mark (so that
/// spreadsheets read UTF-8), the header, then each page's part in order, spooled.
/// A page published before the table existed has no part yet: it is made here, once.
pub async fn assemble_csv(
    private: &dyn ObjectStore,
    responses: &dyn Responses,
    record: &ConsultationRecord,
    published: u64,
) -> Result<SpooledFile, PublishError> {
    let c = &record.consultation;
    let questions = c.questions.len();
    let mut spool = Spool::create("responses.csv")?;
    spool.write(b"\xEF\xBB\xBF").await?;
    spool.write(&csv_header(questions)).await?;
    for page in 1..=site_paths::page_count(published) {
        let rows = site_paths::page_range(page, published).count();
        let part = key(csv_part_key(&c.id, page, rows))?;
        let object = match private.get(&part).await? {
            Some(object) => object,
            None => {
                let listed = responses
                    .range(&c.id, site_paths::page_range(page, published))
                    .await?;
                write_part(private, &c.id, page, &listed, questions).await?;
                private
                    .get(&part)
                    .await?
                    .ok_or_else(|| PublishError::MissingOriginal(part.as_str().to_owned()))?
            }
        };
        let mut body = object.body;
        while let Some(chunk) = body.try_next().await? {
            spool.write(&chunk).await?;
        }
    }
    Ok(spool.finish("responses.csv".to_owned()).await?)
}

/// Writes `responses.csv` to the site.
pub async fn publish_csv(
    private: &dyn ObjectStore,
    responses: &dyn Responses,
    site: &dyn ObjectStore,
    record: &ConsultationRecord,
    published: u64,
) -> Result<(), PublishError> {
    let table = assemble_csv(private, responses, record, published).await?;
    let target: ObjectKey = key(site_paths::csv_url(&record.consultation.id)[1..].to_owned())?;
    site.put(
        &target,
        table.body(),
        &crate::site::site_meta(target.as_str()),
        PutMode::Overwrite,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_as_rfc_4180_says_and_formulas_neutralised() {
        let row = csv_row(&[
            "plain",
            "a,b",
            "say \"hi\"",
            "two\r\nlines",
            "=1+1",
            "+33 1",
            "-5",
            "@SUM(A1)",
            "a=b",
            "",
            "né",
        ]);
        assert_eq!(
            String::from_utf8(row).unwrap(),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\r\nlines\",'=1+1,'+33 1,'-5,'@SUM(A1),a=b,,né\r\n"
        );
        // A formula inside quotes is neutralised too.
        let row = csv_row(&["=HYPERLINK(\"http://x\",\"y\")"]);
        assert_eq!(
            String::from_utf8(row).unwrap(),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\r\n"
        );
    }

    #[test]
    fn the_header_has_a_column_per_question() {
        assert_eq!(
            String::from_utf8(csv_header(2)).unwrap(),
            "number,received_at,channel,name,organization,category,country,answer_1,answer_2,\
             text,files,file_urls\r\n"
        );
    }
}
